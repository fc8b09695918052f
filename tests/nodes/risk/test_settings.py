"""The risk node's TOML: defaults, exact units, and a clear ConfigError for every bad table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alphapulse.errors import ConfigError
from mesh.config import load_config
from nodes.risk import RiskNode
from nodes.risk.rules import Action
from nodes.risk.settings import (
    ConsecutiveSettings,
    DailyLossSettings,
    FailureRateSettings,
    GasPriceSettings,
    RiskSettings,
    TradeSizeSettings,
    VolatilitySettings,
    parse_settings,
)
from nodes.runtime.testing import short_dir

TOKEN = "0x" + "ab" * 20


def _parse(breakers=None, **top):
    return parse_settings({"breakers": breakers or {}, **top})


def test_defaults_enable_every_breaker_with_documented_limits():
    s = _parse()
    assert s == RiskSettings()
    assert s.consecutive_failures == ConsecutiveSettings(3, Action.STOP)
    assert s.daily_loss == DailyLossSettings(1000 * 10**8, Action.STOP)
    assert s.failure_rate == FailureRateSettings(1000, 20, 10, Action.STOP)
    assert s.gas_price == GasPriceSettings(200 * 10**9, Action.THROTTLE)
    assert s.trade_size == TradeSizeSettings(0, {}, Action.ALERT)
    assert s.volatility == VolatilitySettings(500, 10, Action.ALERT)
    assert s.var_window == 250


def test_values_are_read_exactly_in_their_units():
    s = _parse({"daily_loss": {"limit_usd": 12.34567891, "action": "alert"},
                "gas_price": {"max_base_fee_gwei": "0.000000001"},
                "trade_size": {"default_max": 7, "max_per_token": {TOKEN: 10**30}},
                "failure_rate": {"max_rate_bps": 2500, "window": 8, "min_sample": 8},
                "volatility": {"max_move_bps": 1, "blocks": 3, "action": "stop"}})
    assert s.daily_loss == DailyLossSettings(1_234_567_891, Action.ALERT)
    assert s.gas_price is not None and s.gas_price.max_base_fee_wei == 1
    assert s.trade_size is not None
    assert s.trade_size.limit_for(bytes.fromhex("ab" * 20)) == 10**30
    assert s.trade_size.limit_for(bytes(20)) == 7
    assert s.failure_rate == FailureRateSettings(2500, 8, 8, Action.STOP)
    assert s.volatility == VolatilitySettings(1, 3, Action.STOP)


def test_legacy_key_sets_the_consecutive_limit_and_the_table_wins():
    assert _parse(max_consecutive_failures=5).consecutive_failures.limit == 5
    s = _parse({"consecutive_failures": {"limit": 2}}, max_consecutive_failures=5)
    assert s.consecutive_failures.limit == 2


def test_a_disabled_breaker_is_none():
    s = _parse({"volatility": {"enabled": False}, "gas_price": {"enabled": False}})
    assert s.volatility is None and s.gas_price is None and s.daily_loss is not None


@pytest.mark.parametrize(("breakers", "top", "match"), [
    ({"daily_los": {}}, {}, r"unknown breakers daily_los \(known: consecutive_failures"),
    ({"daily_loss": {"limit": 5}}, {}, r"daily_loss\]: unknown keys limit \(known: action"),
    ({"daily_loss": {"action": "halt"}}, {}, r"'halt' is not one of 'alert', 'throttle', 'stop'"),
    ({"daily_loss": {"limit_usd": -5}}, {}, "must be a positive number"),
    ({"daily_loss": {"limit_usd": "lots"}}, {}, "'lots' is not a number"),
    ({"daily_loss": {"limit_usd": "0.000000001"}}, {}, "more than 8 decimals"),
    ({"daily_loss": 5}, {}, r"\[nodes.risk.breakers.daily_loss\] must be a table"),
    ({"gas_price": {"max_base_fee_gwei": True}}, {}, "is not a number"),
    ({"failure_rate": {"max_rate_bps": 10_000}}, {}, r"out of range \(must be in \[0, 9999\]\)"),
    ({"failure_rate": {"window": 5}}, {}, "min_sample 10 is larger than window 5"),
    ({"failure_rate": {"min_sample": 1.5}}, {}, "1.5 is not an integer"),
    ({"volatility": {"blocks": 0}}, {}, r"blocks: 0 is out of range"),
    ({"volatility": {"enabled": "yes"}}, {}, "'yes' is not true or false"),
    ({"trade_size": {"max_per_token": {"0x1234": 5}}}, {}, "not a 0x-prefixed 20-byte"),
    ({"trade_size": {"max_per_token": {TOKEN: 0}}}, {}, r"out of range \(must be >= 1\)"),
    ({"trade_size": {"max_per_token": [1]}}, {}, "must be a table of token address"),
    ({}, {"max_consecutive_failures": 0}, "max_consecutive_failures: 0 is out of range"),
    ({}, {"var_window": 0}, "var_window: 0 is out of range"),
])
def test_bad_tables_raise_config_error_naming_the_key(breakers, top, match):
    with pytest.raises(ConfigError, match=match):
        _parse(breakers, **top)


def test_breakers_that_are_not_a_table_are_refused():
    with pytest.raises(ConfigError, match="must be a table of breaker tables"):
        parse_settings({"breakers": [1]})


def _config(tmp, body: str):
    path = tmp / "mesh.toml"
    path.write_text(f'[mesh]\nrun_dir = "{tmp}"\ndefault_nodes = false\n'
                    f"[nodes.risk]\n{body}\n")
    return path


def test_toml_tables_reach_the_parser_through_the_contract():
    with short_dir() as tmp:
        cfg = load_config(_config(tmp, "[nodes.risk.breakers.volatility]\nblocks = 4\n"
                                       "[nodes.risk.breakers.trade_size.max_per_token]\n"
                                       f"{TOKEN} = 9\n"), env={})
    resolved = RiskNode.CONTRACT.resolve_settings(cfg.node("risk").settings, "risk")
    s = parse_settings(resolved)
    assert s.volatility is not None and s.volatility.blocks == 4
    assert s.trade_size is not None and s.trade_size.limit_for(bytes.fromhex("ab" * 20)) == 9


def test_node_with_a_bad_table_exits_2_with_one_line():
    with short_dir() as tmp:
        path = _config(tmp, '[nodes.risk.breakers.gas_price]\naction = "panic"\n')
        done = subprocess.run([sys.executable, "-m", "nodes.runtime", "risk", "--config",
                               str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "risk: error: [nodes.risk.breakers.gas_price] action: 'panic' is not one of "
        "'alert', 'throttle', 'stop'"]
