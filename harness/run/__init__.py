"""Run: start a submission's programs in a sandbox, play a scenario's steps, record what was seen."""
