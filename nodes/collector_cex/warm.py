"""``python -m nodes.collector_cex.warm``: compile the collector's depth fast path into numba's cache.

`make install` runs it once, so neither the first ``collector-cex`` nor the first test pays the
25 s compile; with the cache in place it takes a fraction of a second. (A module of its own:
``python -m nodes.collector_cex.fastring`` would run a module the package has already imported.)
"""

from __future__ import annotations

import sys

from nodes.collector_cex.fastring import warm

if __name__ == "__main__":
    sys.stdout.write(f"collector-cex fast path compiled or loaded in {warm():.1f} s\n")
