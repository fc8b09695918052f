"""Binance spot: combined-stream parsing, depth sync, request signing and the signed REST client."""
