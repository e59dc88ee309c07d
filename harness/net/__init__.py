"""Net: the network the programs of one scenario run on."""
