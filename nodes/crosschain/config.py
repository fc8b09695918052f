"""What the crosschain node compares: assets mapped to tokens on each chain, the bridge, the chains.

``assets`` is a comma-separated list of ``X/Q`` entries (manifest symbols, the same on both
chains), or ``XA/QA=XB/QB`` when chain B spells them otherwise, each optionally followed by
``:FIXED`` (the bridge's fixed charge in raw units of ``X`` on chain A; raw units of chain B's
``X`` are converted exactly when its decimals differ). Every pool of chain A's manifest holding
``XA`` and ``QA`` is paired with every pool of chain B's holding ``XB`` and ``QB``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alphapulse.errors import ConfigError
from contracts.swapmath.crosschain import Bridge
from contracts.swapmath.flash import BadSizing
from nodes.cexdex.config import PoolSpec, Token, manifest_pools, token


@dataclass(frozen=True, slots=True)
class AssetEntry:
    """One ``assets`` entry before the manifests resolve it: symbols on each chain, fixed fee."""

    x_a: str
    q_a: str
    x_b: str
    q_b: str
    fixed_x: int

    @property
    def label(self) -> str:
        """``WETH/USDC`` (the metrics' ``asset`` label)."""
        return f"{self.x_a}/{self.q_a}"


@dataclass(frozen=True, slots=True)
class Asset:
    """An asset resolved on both chains: ``x``/``q`` tokens per chain (index 0 = A, 1 = B)."""

    label: str
    x: tuple[Token, Token]
    q: tuple[Token, Token]
    fixed_x: int


@dataclass(frozen=True, slots=True)
class ChainSide:
    """One chain as the node knows it: ring namespace, chain id, manifest pools and tokens."""

    index: int
    namespace: str
    chain_id: int
    pools: Mapping[str, PoolSpec]
    manifest: Mapping[str, Any]


def parse_assets(text: str) -> list[AssetEntry]:
    """The ``assets`` setting's entries.

    Raises
    ------
    ConfigError
        A malformed entry, a negative fixed fee, an asset listed twice, none at all.
    """
    out: list[AssetEntry] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        body, _, fixed = entry.partition(":")
        a, _, b = body.partition("=")
        sides = [[t.strip() for t in s.split("/")] for s in (a, b or a)]
        if any(len(s) != 2 or not all(s) for s in sides):
            raise ConfigError(f"asset {entry!r} is not X/Q, X/Q=X/Q or either with :FIXED_RAW_X")
        try:
            fixed_x = int(fixed.strip()) if fixed.strip() else 0
        except ValueError:
            raise ConfigError(f"asset {entry!r}: the fixed bridge fee {fixed!r} is not an integer") from None
        if fixed_x < 0:
            raise ConfigError(f"asset {entry!r}: the fixed bridge fee is negative")
        item = AssetEntry(sides[0][0], sides[0][1], sides[1][0], sides[1][1], fixed_x)
        if any(o.label == item.label for o in out):
            raise ConfigError(f"asset {item.label} is listed twice")
        out.append(item)
    if not out:
        raise ConfigError("assets is empty: nothing to compare")
    return out


def resolve(entry: AssetEntry, manifest_a: Mapping[str, Any], manifest_b: Mapping[str, Any]) -> Asset:
    """An entry's tokens on both chains (decimals from each manifest).

    Raises
    ------
    ConfigError
        A symbol a manifest lacks, or ``X`` and ``Q`` one token.
    """
    xa, qa = token(manifest_a, entry.x_a), token(manifest_a, entry.q_a)
    xb, qb = token(manifest_b, entry.x_b), token(manifest_b, entry.q_b)
    if xa.address == qa.address or xb.address == qb.address:
        raise ConfigError(f"asset {entry.label} maps X and Q to one token")
    return Asset(entry.label, (xa, xb), (qa, qb), entry.fixed_x)


def bridge(settings: Mapping[str, Any], fixed_x: int = 0) -> Bridge:
    """The bridge figures of the node's settings (``fixed_x`` per asset).

    Raises
    ------
    ConfigError
        A figure out of range.
    """
    try:
        return Bridge(fixed_x, int(settings["bridge_fee_ppm"]), int(settings["bridge_latency_s"]),
                      int(settings["latency_haircut_ppm_per_min"]))
    except BadSizing as exc:
        raise ConfigError(f"bridge: {exc}") from None


def chain_side(index: int, namespace: str, manifest: Mapping[str, Any]) -> ChainSide:
    """A chain from its manifest (``chain_id`` and pools).

    Raises
    ------
    ConfigError
        A manifest without a chain id, or with an incomplete pool entry.
    """
    try:
        chain_id = int(manifest["chain_id"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"chain {'AB'[index]}'s manifest has no chain_id") from None
    return ChainSide(index, namespace, chain_id, manifest_pools(manifest), manifest)
