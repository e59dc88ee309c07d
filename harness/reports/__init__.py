"""Reports: every output, written from grades and records only."""
