"""What an executor may trade: allow-lists and limits, from its settings and the deployment.

Everything here is decided before a key is touched. Amounts are raw integers: a limit such as
``WETH=1000e18`` is parsed exactly (``Decimal``), never through a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_utils import to_checksum_address

from alphapulse.errors import ConfigError
from contracts.devnet import profit_recipient

GWEI = 10**9


def _address(text: str) -> str:
    try:
        return to_checksum_address(text.strip()).lower()
    except (ValueError, TypeError):
        raise ConfigError(f"not an address: {text.strip()!r}") from None


def exact_amount(text: str, what: str) -> int:
    """A non-negative integer written plainly or as ``1000e18`` / ``2.5e6`` (exact, no float)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(f"{what}: {text.strip()!r} is not a number") from None
    if value < 0 or value != value.to_integral_value():
        raise ConfigError(f"{what}: {text.strip()!r} is not a non-negative whole number of raw units")
    return int(value)


def manifest_pools(manifest: Mapping[str, Any]) -> set[str]:
    """Every pool and pair the manifest lists (lower-case addresses)."""
    pools: set[str] = set()
    for section in ("uniswap_v2", "uniswap_v2_fork"):
        pools.update(str(p["address"]).lower() for p in manifest.get(section, {}).get("pairs", []))
    pools.update(str(p["address"]).lower() for p in manifest.get("uniswap_v3", {}).get("pools", []))
    return pools


def token_named(manifest: Mapping[str, Any], name: str) -> str:
    """A token by manifest symbol or address, lower case."""
    tokens = manifest.get("tokens", {})
    if name.strip() in tokens:
        return str(tokens[name.strip()]["address"]).lower()
    return _address(name)


@dataclass(frozen=True, slots=True)
class Policy:
    """Allow-lists (None = anything) and limits an opportunity must meet before it is signed.

    Attributes
    ----------
    chain_id : int
    recipient : str
        The only profit recipient a trade may name (lower case).
    strategies, pools, tokens, lenders : frozenset or None
        Allowed strategy ids and addresses (lower case); None allows any.
    max_amount_in : dict
        Largest ``amount_in`` per token (raw); a token without an entry uses ``default_max_in``,
        and is refused when that is None.
    min_profit_usd_q8, max_profit_usd_q8 : int
        The opportunity's net profit must lie in this range (the upper bound refuses the absurd).
    max_gas : int
        Largest gas estimate accepted.
    max_fee_wei : int
        Gas price ceiling: the fee cap never exceeds it, and no trade while the base fee does.
    gas_margin_pct : int
        Gas limit = estimate × (100 + margin) / 100.
    tip_pct : int
        Priority fee bid, in percent of the node's suggestion (above 100 outbids plain traffic
        for a place early in the block).
    """

    chain_id: int
    recipient: str
    strategies: frozenset[int] | None
    pools: frozenset[str] | None
    tokens: frozenset[str] | None
    lenders: frozenset[str] | None
    max_amount_in: dict[str, int]
    default_max_in: int | None
    min_profit_usd_q8: int
    max_profit_usd_q8: int
    max_gas: int
    max_fee_wei: int
    gas_margin_pct: int
    tip_pct: int = 100

    def amount_limit(self, token: str) -> int | None:
        """Largest input for ``token`` (lower case), None when the token is not allowed any."""
        return self.max_amount_in.get(token, self.default_max_in)

    def gas_limit(self, estimate: int) -> int:
        """The gas limit signed for an estimate (the margin covers the estimate's error)."""
        return estimate * (100 + self.gas_margin_pct) // 100


def _set(text: str, parse, manifest_default) -> frozenset | None:
    text = str(text).strip()
    if text == "*":
        return None
    if text == "manifest":
        return frozenset(manifest_default())
    return frozenset(parse(x) for x in text.split(",") if x.strip())


def load_policy(settings: Mapping[str, Any], manifest: Mapping[str, Any], chain_id: int) -> Policy:
    """The policy from the executor's settings; ``manifest`` resolves symbols and ``manifest`` lists.

    Raises
    ------
    ConfigError
        An unknown symbol, a bad address or amount.
    """
    limits: dict[str, int] = {}
    default = None
    for item in str(settings["max_amount_in"]).split(","):
        if not item.strip():
            continue
        name, sep, amount = item.partition("=")
        if not sep:
            raise ConfigError(f"max_amount_in: {item.strip()!r} is not TOKEN=AMOUNT")
        if name.strip() == "*":
            default = exact_amount(amount, "max_amount_in")
        else:
            limits[token_named(manifest, name)] = exact_amount(amount, "max_amount_in")

    def int_id(x: str) -> int:
        try:
            return int(x)
        except ValueError:
            raise ConfigError(f"allow_strategies: {x.strip()!r} is not a strategy id") from None

    aave = str(manifest.get("aave_v3", {}).get("pool", "")).lower()
    pools = manifest_pools(manifest)
    return Policy(
        chain_id=chain_id,
        recipient=_address(str(settings["recipient"]) or profit_recipient(manifest)),
        strategies=_set(settings["allow_strategies"], int_id, lambda: ()),
        pools=_set(settings["allow_pools"], _address, lambda: pools),
        tokens=_set(settings["allow_tokens"], lambda x: token_named(manifest, x),
                    lambda: (str(t["address"]).lower() for t in manifest.get("tokens", {}).values())),
        lenders=_set(settings["allow_lenders"], _address, lambda: pools | ({aave} if aave else set())),
        max_amount_in=limits, default_max_in=default,
        min_profit_usd_q8=round(Decimal(str(settings["min_profit_usd"])) * 10**8),
        max_profit_usd_q8=round(Decimal(str(settings["max_profit_usd"])) * 10**8),
        max_gas=int(settings["max_gas"]),
        max_fee_wei=exact_amount(str(settings["max_fee_gwei"]), "max_fee_gwei") * GWEI,
        gas_margin_pct=int(settings["gas_margin_pct"]),
        tip_pct=int(settings["tip_pct"]),
    )
