"""Watching the system under test while a run goes on (config.monitor, issue 17):
Prometheus text endpoints read through a small selector language (`exposition.py`,
`selector.py`) and local processes through psutil (`process.py`), sampled as sources
(`source.py`) that give a value per metric or a `SampleError` value (`values.py`),
never an exception.

This package imports nothing itself: `import yamlload.monitor.selector` (what the
compiler needs to check a plan) loads neither psutil nor aiohttp's client."""
