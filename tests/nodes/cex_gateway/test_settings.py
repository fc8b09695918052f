"""The gateway's configuration: paper by default, live one line away, limits parsed exactly."""

from __future__ import annotations

import pytest

from alphapulse.errors import ConfigError
from mesh.protocol import InstrumentId
from mesh.protocol.constants import VenueId
from nodes.cex_gateway import CexGatewayNode
from nodes.cex_gateway.settings import LIVE_REST, LIVE_WS, parse_settings


def settings(**given: object) -> dict[str, object]:
    return CexGatewayNode.CONTRACT.resolve_settings(given, "cex-gateway")


def test_paper_is_the_default_and_finds_the_local_exchange_and_its_keys_in_the_environment():
    s = parse_settings(settings(), environ={"ALPHAPULSE_EXCHANGE_PORT": "18790",
                                            "ALPHAPULSE_PAPER_KEYS": "/run/paper-keys.json"})
    assert (s.mode, s.rest_url, s.ws_url) == ("paper", "http://127.0.0.1:18790",
                                              "ws://127.0.0.1:18790")
    assert s.key_file == "/run/paper-keys.json"
    eth = InstrumentId.coin(VenueId.BINANCE, "ETH/USDT").asset_id
    assert s.symbols[eth].symbol == "ETHUSDT" and s.symbols[eth].quote == "USDT"


def test_live_is_one_line_away_and_does_not_use_the_paper_keys():
    s = parse_settings(settings(mode="live"), environ={"ALPHAPULSE_PAPER_KEYS": "/x.json"})
    assert (s.rest_url, s.ws_url, s.key_file) == (LIVE_REST, LIVE_WS, "")


def test_paper_mode_refuses_an_endpoint_off_this_host():
    with pytest.raises(ConfigError, match="paper mode"):
        parse_settings(settings(rest_url="https://api.binance.com",
                                ws_url="ws://127.0.0.1:1"), environ={})


def test_paper_mode_without_a_port_is_a_config_error():
    with pytest.raises(ConfigError, match="ALPHAPULSE_EXCHANGE_PORT"):
        parse_settings(settings(), environ={})


def test_limits_are_parsed_exactly_per_symbol():
    s = parse_settings(settings(paper_port=1, max_order_qty="ETHUSDT=0.00000001,*=2.5",
                                max_order_notional="1234.5", max_position="ETH/USDT=3"),
                       environ={})
    assert s.limits.max_qty == {"ETHUSDT": 1} and s.limits.default_qty == 250_000_000
    assert s.limits.max_notional_q8 == 123_450_000_000
    assert s.limits.max_position == {"ETHUSDT": 300_000_000}


@pytest.mark.parametrize(("key", "value"), [
    ("mode", "yolo"), ("max_order_qty", "ETHUSDT"), ("max_order_notional", "1e3"),
    ("symbols", "ETH_USDT"), ("recv_window_ms", 60_001), ("symbols", ""),
])
def test_bad_settings_are_config_errors(key, value):
    with pytest.raises(ConfigError):
        parse_settings(settings(paper_port=1, **{key: value}), environ={})
