"""What the cexdex node compares: CEX pairs mapped to chain tokens, and the manifest's pools.

``pairs`` is a comma-separated list of ``venue:BASE/QUOTE=TOKEN/TOKEN`` entries, e.g.
``binance:ETH/USDT=WETH/USDC``: the CEX pair (its InstrumentId is
``InstrumentId.coin(venue, "ETH/USDT")``, as the collectors write it) and the chain tokens it
stands for, by manifest symbol (or address). Every pool of the manifest holding both tokens is a
candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from alphapulse.errors import ConfigError
from mesh.protocol import InstrumentId
from mesh.protocol.constants import PoolKind, VenueId

#: Manifest sections holding pools, and where their list is.
POOL_SECTIONS = (("uniswap_v2", "pairs"), ("uniswap_v2_fork", "pairs"), ("uniswap_v3", "pools"))
#: VenueIds below this are exchanges (from 200 on: chains and DEXes).
_LAST_EXCHANGE = 199


@dataclass(frozen=True, slots=True)
class Token:
    """A chain token: manifest symbol (or its address), lower-case address, decimals."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One CEX pair and the chain tokens it stands for."""

    venue_name: str
    symbol: str
    instrument: InstrumentId
    base: Token
    quote: Token

    @property
    def label(self) -> str:
        """``binance:ETH/USDT`` (the metrics' ``pair`` label)."""
        return f"{self.venue_name}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A pool of the manifest: address and tokens lower case, its kind, fee and tick spacing.

    ``fee`` is what :mod:`contracts.swapmath` takes: bps for a V2 pair, ppm for a V3 pool.
    """

    address: str
    kind: PoolKind
    token0: str
    token1: str
    fee: int
    tick_spacing: int = 0

    @property
    def fee_ppm(self) -> int:
        """The pool fee in ppm."""
        return self.fee * 100 if self.kind == PoolKind.UNISWAP_V2 else self.fee

    def holds(self, a: str, b: str) -> bool:
        """Whether the pool trades ``a`` against ``b``."""
        return {self.token0, self.token1} == {a, b}


def token(manifest: Mapping[str, Any], name: str) -> Token:
    """A token by manifest symbol or address (its decimals from the manifest).

    Raises
    ------
    ConfigError
        Neither a symbol nor an address of the manifest.
    """
    tokens = manifest.get("tokens", {})
    if name in tokens:
        t = tokens[name]
        return Token(name, str(t["address"]).lower(), int(t["decimals"]))
    try:
        address = to_checksum_address(name).lower()
    except (ValueError, TypeError):
        raise ConfigError(f"token {name!r} is neither a manifest symbol nor an address") from None
    for symbol, t in tokens.items():
        if str(t["address"]).lower() == address:
            return Token(symbol, address, int(t["decimals"]))
    raise ConfigError(f"the manifest does not list token {name}, so its decimals are unknown")


def venue_id(name: str) -> VenueId:
    """An exchange's VenueId by name (``binance``, ``coinbase``, ...).

    Raises
    ------
    ConfigError
        Not an exchange's name.
    """
    try:
        venue = VenueId[name.strip().upper()]
    except KeyError:
        venue = None
    if venue is None or not 0 < venue <= _LAST_EXCHANGE:
        raise ConfigError(f"{name!r} is not an exchange (binance, coinbase, ...)")
    return venue


def split_pairs(text: str) -> list[tuple[VenueId, str, str, str]]:
    """The ``pairs`` setting's entries: (venue, ``BASE/QUOTE``, base token, quote token names).

    Raises
    ------
    ConfigError
        A malformed entry, an unknown venue, a pair listed twice.
    """
    out: list[tuple[VenueId, str, str, str]] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        venue_part, _, rest = entry.partition(":")
        cex, _, chain = rest.partition("=")
        cex_parts = [x.strip() for x in cex.upper().split("/")]
        chain_parts = [x.strip() for x in chain.split("/")]
        if not venue_part or len(cex_parts) != 2 or len(chain_parts) != 2 or not all(cex_parts) \
                or not all(chain_parts):
            raise ConfigError(f"pair {entry!r} is not venue:BASE/QUOTE=TOKEN/TOKEN")
        venue, symbol = venue_id(venue_part), "/".join(cex_parts)
        if any(v == venue and s == symbol for v, s, _, _ in out):
            raise ConfigError(f"pair {entry!r} is listed twice")
        out.append((venue, symbol, chain_parts[0], chain_parts[1]))
    return out


def parse_pairs(text: str, manifest: Mapping[str, Any]) -> list[PairSpec]:
    """The ``pairs`` setting, tokens resolved through the manifest.

    Raises
    ------
    ConfigError
        A malformed entry, an unknown venue or token, a pair listed twice.
    """
    out: list[PairSpec] = []
    for venue, symbol, base_name, quote_name in split_pairs(text):
        base, quote = token(manifest, base_name), token(manifest, quote_name)
        if base.address == quote.address:
            raise ConfigError(f"pair {venue.name.lower()}:{symbol} maps base and quote to one token")
        out.append(PairSpec(venue.name.lower(), symbol, InstrumentId.coin(venue, symbol), base, quote))
    return out


def manifest_pools(manifest: Mapping[str, Any]) -> dict[str, PoolSpec]:
    """Every pool of the manifest by lower-case address.

    Raises
    ------
    ConfigError
        A pool entry without its address, tokens or fee.
    """
    out: dict[str, PoolSpec] = {}
    for section, key in POOL_SECTIONS:
        for p in manifest.get(section, {}).get(key, []):
            try:
                v3 = p.get("kind") == "v3" or section == "uniswap_v3"
                spec = PoolSpec(str(p["address"]).lower(),
                                PoolKind.UNISWAP_V3 if v3 else PoolKind.UNISWAP_V2,
                                str(p["token0"]).lower(), str(p["token1"]).lower(),
                                int(p["fee"] if v3 else p.get("fee_bps", 30)),
                                int(p["tick_spacing"]) if v3 else 0)
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"manifest {section} entry {p!r} is incomplete: {exc}") from None
            out[spec.address] = spec
    return out


def gas_units(settings: Mapping[str, Any]) -> dict[PoolKind, int]:
    """The DEX leg's gas units per pool kind, from the ``gas_v2`` and ``gas_v3`` settings."""
    return {PoolKind.UNISWAP_V2: int(settings["gas_v2"]), PoolKind.UNISWAP_V3: int(settings["gas_v3"])}
