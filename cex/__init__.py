"""Centralized exchanges: their wire formats, books, signing and a local exchange.

Everything a CEX node needs that is not a node: decimal text to the protocol's fixed point
(``fixed``), venue symbols to InstrumentIds (``symbols``), integer order books (``book``), the
interface one transport drives for every venue (``feed``), each venue's messages
(``binance``, ``coinbase``), and the local exchange server that replays fixture files for tests
and runs a paper exchange offline (``exchange``). See docs/cex-collectors.md,
docs/cex-gateway.md and docs/local-exchange.md.
"""
