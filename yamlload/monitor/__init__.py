"""Watching the system under test while a run goes on (config.monitor, issue 17):
Prometheus text endpoints read through a small selector language (`exposition.py`,
`selector.py`) and local processes through psutil (`process.py`), sampled as sources
(`source.py`) that give a value per metric or an error value, never an exception."""
