"""The local exchange server: Binance and Coinbase wire formats on one loopback port.

Three modes share one aiohttp app: **replay** (a JSON Lines script of messages, REST answers
and disconnects, for the collectors' tests), **paper** (Binance's signed order endpoints
matching against the server's book, with the user-data stream) and **live** (a synthetic book
that follows the devnet's pool prices with noise, for ``make run``). See docs/local-exchange.md.

``async with LocalExchange(script=path) as ex`` in async code, ``with serve_in_thread(...) as
ex`` in synchronous tests; ``ex.http_url``, ``ex.ws_url``, ``ex.coinbase_url``, ``ex.stats``
and ``ex.script_done``.
"""

from cex.exchange.errors import ExchangeError, KeysError, ScriptError, SymbolsError
from cex.exchange.script import load_script
from cex.exchange.server import LocalExchange
from cex.exchange.settings import WsLimits
from cex.exchange.threaded import ThreadedExchange, serve_in_thread

__all__ = ["ExchangeError", "KeysError", "LocalExchange", "ScriptError", "SymbolsError",
           "ThreadedExchange", "WsLimits", "load_script", "serve_in_thread"]
