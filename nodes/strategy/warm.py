"""``python -m nodes.strategy.warm``: compile the strategy's kernels into numba's cache.

On a fresh checkout the kernels take 15-40 s to compile, depending on the machine's load: the
book's frame walk, the screen, the V2 sizing and the V3 swap. `make install` runs this once, so
neither the first `strategy` node nor the first test pays for it. With the cache in place it takes
a fraction of a second.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from mesh.protocol import encode_frame
from mesh.protocol.messages import BlockEnd, PoolState
from nodes.strategy.book import PoolBook
from nodes.strategy.engine import Engine
from nodes.strategy.evaluate import Evaluator
from nodes.strategy.graph import CycleGraph
from nodes.strategy.screen import Screen
from nodes.strategy.values import Deployment


def warm() -> float:
    """Compile (or load) every kernel a strategy node uses; seconds it took."""
    start = time.monotonic()
    book = PoolBook(4, 4)
    weth, usdc = "0x" + "01" * 20, "0x" + "02" * 20
    graph = CycleGraph([weth])
    dep = Deployment(1, "0x" + "00" * 20, "0x" + "00" * 20, weth, usdc, 6)
    engine = Engine(book, graph, Evaluator(book, graph, dep), Screen())
    state = PoolState(reserve0=10**18, reserve1=3 * 10**9, block_number=1, fee_rate=30, pool_type=0,
                      pool_address=b"\x0a" * 20, token0_addr=bytes.fromhex(weth[2:]),
                      token1_addr=bytes.fromhex(usdc[2:]))
    frames = [encode_frame([state], source=1), encode_frame([BlockEnd(block_number=1)], source=1)]
    data = np.frombuffer(b"".join(frames), np.uint8).copy()
    offsets = np.zeros(3, np.int64)
    np.cumsum([len(f) for f in frames], out=offsets[1:])
    engine.feed(data, offsets, 2)
    book.slot("0x" + "0a" * 20)
    engine.warm_up()
    return time.monotonic() - start


def main() -> int:
    """Warm the kernels and say how long it took."""
    sys.stdout.write(f"strategy kernels ready in {warm():.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
