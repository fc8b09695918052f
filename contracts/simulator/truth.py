"""Ground truth of an injected dislocation: the cycles it opens, their exact best input and profit.

One JSON object per line, appended to ``RUN_DIR/ground_truth.jsonl``. Integers are raw token
units, written as JSON integers of any size (Python's :mod:`json` reads them exactly; a reader
in a language without big integers must parse them as strings)::

    {
      "v": 1,                       # schema version
      "block": 1234,                # the block that mined the injection; state is read at its end
      "tx": "0x...",                # the injection's transaction hash
      "pool": "0x...", "venue": "uniswap_v3", "pair": "WETH/USDC", "fee": 500,
                                    # fee: V3 pool fee in millionths, V2 fee in bps (30)
      "swap": {"token_in": "0x...", "amount_in": 10**21, "sqrt_price_limit_x96": null | int},
                                    # amount_in is what the swap offered (a V3 swap with a
                                    # price limit may have used less)
      "premium_bps": 5,             # Aave V3 FLASHLOAN_PREMIUM_TOTAL at that block
      "cycles": [{
        "start": "0x...", "start_symbol": "WETH",
        "hops": [{"pool": "0x...", "venue": "uniswap_v2", "token_in": "0x...", "token_out": "0x..."}, ...],
        "gross": {"amount_in": int, "amount_out": int, "profit": int},
        "net": {"amount_in": int, "amount_out": int, "premium": int, "profit": int} | null
      }, ...]
    }

``cycles`` lists every 2- and 3-hop cycle over the devnet pools that goes through the injected
pool and profits (gross of gas) at the end of ``block``, from each start token and in each
direction. ``gross`` is the input maximising ``amount_out - amount_in``; ``net`` the input
maximising ``amount_out - amount_in - premium`` with Aave's flash-loan premium
(``(amount_in * premium_bps + 5000) // 10000``), null when no input profits net. V2 hops pay
``getAmountOut``; V3 hops swap exact input with the loosest price limit, as FlashArbitrage does.
"Maximising" is exact search over integers as :func:`contracts.swapmath.sizing.optimum` does it;
every amount is exactly what the chain pays at that block.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.simulator.state import MarketState, PoolMeta
from contracts.swapmath.cycles import Cycle, enumerate_cycles
from contracts.swapmath.flash import FlashFee
from contracts.swapmath.sizing import optimum

SCHEMA_VERSION = 1
FILE_NAME = "ground_truth.jsonl"


@dataclass(slots=True, frozen=True)
class Injection:
    """An injected swap as sent: pool, input token and amount, optional V3 price limit."""

    pool: str
    token_in: str
    amount_in: int
    sqrt_price_limit_x96: int | None = None


def all_cycles(metas: Iterable[PoolMeta]) -> list[Cycle]:
    """Every 2- and 3-hop cycle over the pools (tokens only matter here)."""
    from contracts.swapmath.pools import V2Pool

    return enumerate_cycles([V2Pool(m.address, m.token0, m.token1, 0, 0) for m in metas])


def cycle_record(state: MarketState, cycle: Cycle, metas: Mapping[str, PoolMeta],
                 symbols: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``cycles`` entry of one cycle at ``state``, or None when it does not profit gross."""
    gross = optimum(state.pools, cycle)
    if gross is None:
        return None
    net = optimum(state.pools, cycle, FlashFee.aave(state.premium_bps))
    return {
        "start": cycle.start,
        "start_symbol": symbols.get(cycle.start.lower(), "?"),
        "hops": [{"pool": h.pool, "venue": metas[h.pool].venue, "token_in": h.token_in, "token_out": h.token_out}
                 for h in cycle.hops],
        "gross": {"amount_in": gross.amount_in, "amount_out": gross.amount_out, "profit": gross.profit},
        "net": None if net is None else {"amount_in": net.amount_in, "amount_out": net.amount_out,
                                         "premium": net.premium, "profit": net.profit},
    }


def ground_truth(state: MarketState, injection: Injection, tx_hash: str, cycles: Iterable[Cycle],
                 metas: Mapping[str, PoolMeta], symbols: Mapping[str, str]) -> dict[str, Any]:
    """The ground-truth record of ``injection`` mined in ``state.block`` (see the module docstring)."""
    meta = metas[injection.pool]
    found = []
    for cycle in cycles:
        if injection.pool in cycle.pools:
            record = cycle_record(state, cycle, metas, symbols)
            if record is not None:
                found.append(record)
    return {
        "v": SCHEMA_VERSION, "block": state.block, "tx": tx_hash,
        "pool": meta.address, "venue": meta.venue, "pair": meta.pair, "fee": meta.fee if meta.is_v3 else 30,
        "swap": {"token_in": injection.token_in, "amount_in": injection.amount_in,
                 "sqrt_price_limit_x96": injection.sqrt_price_limit_x96},
        "premium_bps": state.premium_bps,
        "cycles": found,
    }


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line (written whole, then flushed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, separators=(",", ":")) + "\n")


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every ground-truth record of a file, in order."""
    with path.open(encoding="utf-8") as src:
        return [json.loads(line) for line in src if line.strip()]
