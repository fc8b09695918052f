"""The ``alphapulse exchange serve`` command: build the server from arguments, run until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from alphapulse.parent import exit_with_parent
from cex.exchange.keys import load_keys, mask
from cex.exchange.live.settings import FollowSettings
from cex.exchange.paper import PaperSettings
from cex.exchange.script import load_script
from cex.exchange.server import LocalExchange
from cex.exchange.symbols import DEFAULT_LIVE_SYMBOLS, DEFAULT_SYMBOLS, parse_symbols
from cex.fixed import parse_q8

log = logging.getLogger("cex.exchange")


def build(args: argparse.Namespace) -> LocalExchange:
    """The server the arguments describe (raises ExchangeError for a bad script, symbols or
    keys: one line, exit status 2)."""
    steps = load_script(Path(args.replay)) if args.replay else None
    follow = None
    if args.follow_devnet:
        follow = FollowSettings(run_dir=Path(args.run_dir) if args.run_dir else None,
                                alpha_bps=max(1, args.alpha_bps), noise_bps=args.noise_bps,
                                seed=args.seed)
    default = DEFAULT_LIVE_SYMBOLS if follow else DEFAULT_SYMBOLS
    specs = parse_symbols(default if args.symbols is None else args.symbols)
    if follow is not None:
        from cex.exchange.errors import SymbolsError

        unpooled = [s.symbol for s in specs if s.pool is None]
        if unpooled:
            raise SymbolsError(f"--follow-devnet needs a pool for every symbol: {', '.join(unpooled)} "
                               "(write e.g. ETHUSDT=WETH/USDC)")
    keys = load_keys(args.keys_file)
    paper = PaperSettings(taker_rate=parse_q8(args.taker_fee), maker_rate=parse_q8(args.maker_fee))
    log.info("paper keys: %s", ", ".join(mask(k) for k, _ in keys) or "none (signed endpoints answer -2015)")
    return LocalExchange(script=steps, follow=follow, port=args.port, keys=keys, host=args.host,
                         symbols=specs, paper=paper)


async def _run(ex: LocalExchange) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with ex:
        sys.stdout.write(f"local exchange: {ex.http_url} (Binance REST), {ex.ws_url}/stream "
                         f"(Binance websockets), {ex.coinbase_url} (Coinbase)\n")
        sys.stdout.flush()
        await stop.wait()


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM (exit 0) or Ctrl-C (130), or until its parent (supervisord)
    dies."""
    exit_with_parent()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ex = build(args)
    asyncio.run(_run(ex))
    return 0
