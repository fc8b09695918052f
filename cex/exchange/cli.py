"""``alphapulse exchange serve``: the local exchange server as a command (docs/local-exchange.md).

``register`` is named in the ``alphapulse.commands`` entry-point group (pyproject.toml); the
command itself (:mod:`cex.exchange.serve`) is imported only when it runs.
"""

from __future__ import annotations

import argparse

from mesh.cli import args as a


def _bps(text: str) -> int:
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"basis points must be a whole number, not {text!r}") from None
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"basis points must be 0..10000, not {value}")
    return value


def _rate(text: str) -> str:
    from cex.errors import CexError
    from cex.fixed import SCALE, parse_q8

    try:
        value = parse_q8(text.strip())
    except CexError:
        raise argparse.ArgumentTypeError(f"a fee rate is a decimal fraction such as 0.001, not {text!r}") from None
    if value >= SCALE:
        raise argparse.ArgumentTypeError(f"a fee rate must be below 1, not {text!r}")
    return text.strip()


def _port(text: str) -> int:
    return 0 if text.strip() == "0" else a.port(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``exchange`` command and its ``serve`` action."""
    parser = subparsers.add_parser(
        "exchange", help="local Binance/Coinbase exchange: replay, paper trading, devnet prices")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser(
        "serve", help="serve until interrupted",
        description="Binance REST and websockets and the Coinbase websocket on one loopback port: "
                    "replay a script, paper-trade with signed orders, follow the devnet's prices. "
                    "docs/local-exchange.md.")
    p.add_argument("--port", type=_port, default=8765,
                   help="TCP port (default 8765; 0 picks a free one, printed at start)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--replay", metavar="FILE", help="replay script (JSON Lines) run from the start")
    p.add_argument("--follow-devnet", action="store_true",
                   help="prices follow the devnet's V2 pools (waits for the devnet)")
    p.add_argument("--run-dir", help="the devnet's run directory (default run/devnet)")
    p.add_argument("--symbols", help="SYMBOL[=BASE/QUOTE],... (default ETHUSDT,BTCUSDT,...; "
                                     "with --follow-devnet ETHUSDT=WETH/USDC,BTCUSDT=WBTC/USDC,"
                                     "ETH-USD=WETH/USDC,BTC-USD=WBTC/USDC)")
    p.add_argument("--noise-bps", type=_bps, default=5, help="price noise per block (default 5)")
    p.add_argument("--alpha-bps", type=_bps, default=3000,
                   help="weight of each new block's pool price (default 3000 = 30 %%)")
    p.add_argument("--seed", type=int, default=1, help="noise seed (default 1)")
    p.add_argument("--taker-fee", type=_rate, default="0.001", help="taker rate (default 0.001)")
    p.add_argument("--maker-fee", type=_rate, default="0.001", help="maker rate (default 0.001)")
    p.add_argument("--keys-file", help="JSON [{\"api_key\", \"secret\"}, ...], mode 0600 "
                                       "(default: ALPHAPULSE_BINANCE_API_KEY/_SECRET)")
    a.defaults(p, "cex.exchange.serve:serve", waits=True)
