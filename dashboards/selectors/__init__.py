"""Reads for the pages, one module per audience: `home`, `sdr` (queue, brief, account),
`manager` (team load, SLAs) and `revops` (accuracy, drift, models)."""
