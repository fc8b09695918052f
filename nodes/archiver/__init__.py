"""The archiver: every ring and ZeroMQ frame to Parquet, and the way back (read, replay).

``read.py`` (readers: replay, trace, tests) and ``schema.py`` (the one schema) import no node
runtime; the node itself is ``node.py`` (catalog ``nodes.archiver.node:ArchiverNode``), its
files ``store.py``, its metrics ``metrics.py``; ``replay.py`` and ``cli.py`` the commands.
See docs/archive.md.
"""
