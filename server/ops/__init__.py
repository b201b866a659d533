"""Operations: the command line's helpers (`cliutil.py`), the lessons' commands
(`lesson_cli.py`), several hosts on one machine behind HAProxy (`cluster.py`), what CPU
this is (`hardware.py`) and the benchmarks (`bench/`).

May import: anything. Nothing of the server imports it but `server/__main__.py`."""
