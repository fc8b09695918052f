"""Latency and throughput benchmarks, run as ``python -m bench NAME [--json]``.

Each benchmark is a module ``bench/NAME.py`` with ``run(args) -> list[Row]`` and, optionally,
``add_arguments(parser)``. Every table carries a baseline measured in the same run (raw pyzmq,
``struct``, ``multiprocessing.Pipe``): this machine is noisy, so compare within one run.
"""
