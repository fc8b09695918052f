"""The risk node's settings: one TOML table per breaker, checked and turned into exact numbers.

::

    [nodes.risk]
    var_window = 250
    [nodes.risk.breakers.daily_loss]
    limit_usd = 1000          # exact decimal; kept as USD x 1e8
    action = "stop"
    [nodes.risk.breakers.trade_size.max_per_token]
    0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2 = 100000000000000000000

Every breaker table takes ``enabled`` (default true) and ``action`` (``"alert"``,
``"throttle"`` or ``"stop"``) besides its own keys (docs/risk.md lists them with their
defaults). An unknown breaker, an unknown key or a bad value raises :class:`ConfigError`
naming it, before the node opens a socket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from alphapulse.errors import ConfigError
from nodes.risk.rules import Action


@dataclass(frozen=True, slots=True)
class ConsecutiveSettings:
    """``consecutive_failures``: ``limit`` failed final results in a row trip it."""

    limit: int = 3
    action: Action = Action.STOP


@dataclass(frozen=True, slots=True)
class DailyLossSettings:
    """``daily_loss``: realized USD P&L of the UTC day below ``-limit_usd_q8`` trips it."""

    limit_usd_q8: int = 1000 * 10**8
    action: Action = Action.STOP


@dataclass(frozen=True, slots=True)
class TradeSizeSettings:
    """``trade_size``: an opportunity's ``amount_in`` above its token's maximum trips it.

    ``max_per_token`` maps a 20-byte token address to raw units; ``default_max`` applies to
    tokens not listed (0 = no limit).
    """

    default_max: int = 0
    max_per_token: Mapping[bytes, int] = field(default_factory=dict)
    action: Action = Action.ALERT

    def limit_for(self, token: bytes) -> int:
        """The maximum ``amount_in`` for ``token`` (0 = none)."""
        return self.max_per_token.get(token, self.default_max)


@dataclass(frozen=True, slots=True)
class GasPriceSettings:
    """``gas_price``: the next block's base fee above ``max_base_fee_wei`` trips it."""

    max_base_fee_wei: int = 200 * 10**9
    action: Action = Action.THROTTLE


@dataclass(frozen=True, slots=True)
class FailureRateSettings:
    """``failure_rate``: more than ``max_rate_bps`` of the last ``window`` executions failed
    (judged once ``min_sample`` of them are in)."""

    max_rate_bps: int = 1000
    window: int = 20
    min_sample: int = 10
    action: Action = Action.STOP


@dataclass(frozen=True, slots=True)
class VolatilitySettings:
    """``volatility``: a pool's price moved more than ``max_move_bps`` within ``blocks``."""

    max_move_bps: int = 500
    blocks: int = 10
    action: Action = Action.ALERT


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """Every breaker's settings (None = disabled) and the metrics window."""

    consecutive_failures: ConsecutiveSettings | None = ConsecutiveSettings()
    daily_loss: DailyLossSettings | None = DailyLossSettings()
    trade_size: TradeSizeSettings | None = TradeSizeSettings()
    gas_price: GasPriceSettings | None = GasPriceSettings()
    failure_rate: FailureRateSettings | None = FailureRateSettings()
    volatility: VolatilitySettings | None = VolatilitySettings()
    var_window: int = 250


# -- value parsers: (where, value) -> parsed, raising ConfigError -------------------------------

Parser = Callable[[str, Any], Any]


def _integer(low: int, high: int | None = None) -> Parser:
    def parse(where: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {value!r} is not an integer")
        if value < low or (high is not None and value > high):
            bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise ConfigError(f"{where}: {value} is out of range (must be {bound})")
        return value
    return parse


def _decimal(scale: int) -> Parser:
    """A positive decimal (TOML integer, float or string) as an exact integer x ``10**scale``."""
    def parse(where: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{where}: {value!r} is not a number")
        try:
            exact = Decimal(str(value)).scaleb(scale)
        except InvalidOperation:
            raise ConfigError(f"{where}: {value!r} is not a number") from None
        if not exact.is_finite() or exact <= 0:
            raise ConfigError(f"{where}: {value!r} must be a positive number")
        if exact != exact.to_integral_value():
            raise ConfigError(f"{where}: {value!r} has more than {scale} decimals")
        return int(exact)
    return parse


def _action(where: str, value: Any) -> Action:
    try:
        return Action(value)
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not one of "
                          f"{', '.join(repr(a.value) for a in Action)}") from None


def _boolean(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not true or false")
    return value


def _address(where: str, key: str) -> bytes:
    text = key[2:] if key.lower().startswith("0x") else ""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise ConfigError(f"{where}: {key!r} is not a 0x-prefixed 20-byte token address")
    return raw


def _token_limits(where: str, value: Any) -> dict[bytes, int]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a table of token address = raw units")
    amount = _integer(1)
    return {_address(where, str(k)): amount(f"{where}.{k}", v) for k, v in value.items()}


_POSITIVE = _integer(1)
_BPS = _integer(1, 10_000)

#: Per breaker: its settings class and each key's parser (besides ``enabled`` and ``action``).
_SCHEMA: dict[str, tuple[type, dict[str, Parser]]] = {
    "consecutive_failures": (ConsecutiveSettings, {"limit": _POSITIVE}),
    "daily_loss": (DailyLossSettings, {"limit_usd": _decimal(8)}),
    "trade_size": (TradeSizeSettings, {"default_max": _integer(0),
                                       "max_per_token": _token_limits}),
    "gas_price": (GasPriceSettings, {"max_base_fee_gwei": _decimal(9)}),
    "failure_rate": (FailureRateSettings, {"max_rate_bps": _integer(0, 9_999),
                                           "window": _integer(1, 100_000),
                                           "min_sample": _POSITIVE}),
    "volatility": (VolatilitySettings, {"max_move_bps": _BPS, "blocks": _integer(1, 10_000)}),
}

#: TOML key -> settings field where the names differ (the unit is in the TOML name).
_FIELD = {"limit_usd": "limit_usd_q8", "max_base_fee_gwei": "max_base_fee_wei"}


def _breaker(node: str, name: str, table: Any, defaults: dict[str, Any]) -> Any:
    where = f"[nodes.{node}.breakers.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    cls, parsers = _SCHEMA[name]
    unknown = set(table) - set(parsers) - {"enabled", "action"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))} (known: "
                          f"{', '.join(sorted([*parsers, 'action', 'enabled']))})")
    if not _boolean(f"{where} enabled", table.get("enabled", True)):
        return None
    values = dict(defaults)
    if "action" in table:
        values["action"] = _action(f"{where} action", table["action"])
    for key, parse in parsers.items():
        if key in table:
            values[_FIELD.get(key, key)] = parse(f"{where} {key}", table[key])
    settings = cls(**values)
    if isinstance(settings, FailureRateSettings) and settings.min_sample > settings.window:
        raise ConfigError(f"{where}: min_sample {settings.min_sample} is larger than window "
                          f"{settings.window}")
    return settings


def parse_settings(settings: Mapping[str, Any], node: str = "risk") -> RiskSettings:
    """Build :class:`RiskSettings` from the node's resolved settings.

    Parameters
    ----------
    settings : mapping
        ``max_consecutive_failures``, ``var_window`` and ``breakers`` (a table of tables) as
        :meth:`nodes.runtime.contract.Contract.resolve_settings` gives them.
    node : str
        The node's name, for error messages.

    Raises
    ------
    ConfigError
        An unknown breaker or key, a value of the wrong type or out of range.
    """
    breakers = settings.get("breakers", {})
    if not isinstance(breakers, Mapping):
        raise ConfigError(f"[nodes.{node}.breakers] must be a table of breaker tables")
    unknown = set(breakers) - set(_SCHEMA)
    if unknown:
        raise ConfigError(f"[nodes.{node}.breakers]: unknown breakers "
                          f"{', '.join(sorted(unknown))} (known: {', '.join(_SCHEMA)})")
    legacy = _POSITIVE(f"[nodes.{node}] max_consecutive_failures",
                       settings.get("max_consecutive_failures", 3))
    out: dict[str, Any] = {"var_window": _integer(1, 1_000_000)(
        f"[nodes.{node}] var_window", settings.get("var_window", 250))}
    for name in _SCHEMA:
        defaults = {"limit": legacy} if name == "consecutive_failures" else {}
        out[name] = _breaker(node, name, breakers.get(name, {}), defaults)
    return RiskSettings(**out)
