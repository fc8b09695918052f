"""Binance signing: the documented HMAC example, query strings, decimals and key loading."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cex.binance.signing import (
    ApiKeyError,
    Credentials,
    client_order_id,
    decimal_text,
    load_credentials,
    order_id_of,
    order_params,
    query_string,
    sign,
    signed_query,
)
from cex.errors import BadField

# Binance's worked example (rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order").
DOC_SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
# Example 3: query string and body concatenated without a separator.
DOC_MIXED = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
             "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
DOC_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_sign_reproduces_binance_documented_signatures():
    assert sign(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE
    assert sign(DOC_SECRET, DOC_MIXED) == DOC_MIXED_SIGNATURE


def test_order_params_build_the_documented_query_byte_for_byte():
    params = order_params(symbol="LTCBTC", side="BUY", order_type="LIMIT",
                          time_in_force="GTC", quantity_q8=100_000_000, price_q8=10_000_000,
                          response_type="FULL")
    # The documented example has no newOrderRespType: drop ours to compare with it.
    params = [p for p in params if p[0] != "newOrderRespType"]
    signed = signed_query(params, DOC_SECRET, timestamp_ms=1499827319559, recv_window_ms=5000)
    assert signed == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"


def test_signed_query_signs_exactly_what_precedes_the_signature():
    params = order_params(symbol="ETHUSDT", side="SELL", order_type="MARKET",
                          quantity_q8=12_345_678, client_id="ap-7")
    signed = signed_query(params, b"s3cret", timestamp_ms=1, recv_window_ms=None)
    total, _, signature = signed.rpartition("&signature=")
    assert total == ("symbol=ETHUSDT&side=SELL&type=MARKET&quantity=0.12345678"
                     "&newClientOrderId=ap-7&newOrderRespType=FULL&timestamp=1")
    assert signature == hmac.new(b"s3cret", total.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("q8", "text"), [
    (1, "0.00000001"), (10, "0.0000001"), (100_000_000, "1"), (10_000_000, "0.1"),
    (6_500_012_345_678, "65000.12345678"), (2_500_000_000, "25"),
    ((1 << 63) - 1, "92233720368.54775807"), (123_000_000_000, "1230"),
])
def test_decimal_text_is_exact_without_exponent_or_trailing_zeros(q8, text):
    assert decimal_text(q8) == text
    assert "e" not in text.lower()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_decimal_text_refuses_non_positive_or_non_integer_amounts(bad):
    with pytest.raises(BadField):
        decimal_text(bad)


def test_order_params_refuse_inconsistent_orders():
    with pytest.raises(BadField):
        order_params(symbol="X", side="BUY", order_type="LIMIT", quantity_q8=1, price_q8=1)
    with pytest.raises(BadField):
        order_params(symbol="X", side="BUY", order_type="MARKET", quantity_q8=1, price_q8=5)
    with pytest.raises(BadField):
        order_params(symbol="X", side="BUY", order_type="STOP_LOSS", quantity_q8=1)


def test_query_string_percent_encodes_and_keeps_the_given_order():
    assert query_string([("b", "x y"), ("a", "1/2&3")]) == "b=x%20y&a=1%2F2%263"
    assert query_string({"z": "1", "a": "2"}) == "z=1&a=2"


def test_signed_query_refuses_a_recv_window_beyond_binance_maximum():
    with pytest.raises(BadField):
        signed_query([], b"k", timestamp_ms=1, recv_window_ms=60_001)


def test_client_order_ids_round_trip_and_foreign_ids_are_not_ours():
    assert client_order_id(42) == "ap-42"
    assert order_id_of("ap-42") == 42
    assert order_id_of("web_3f9a") is None
    assert order_id_of("ap-") is None
    with pytest.raises(BadField):
        client_order_id(1, prefix="bad prefix ")


def test_credentials_repr_hides_the_secret_and_the_key():
    creds = Credentials("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                        DOC_SECRET)
    for text in (repr(creds), str(creds), f"{creds}"):
        assert DOC_SECRET.decode() not in text
        assert creds.api_key not in text


def test_load_credentials_reads_the_environment():
    creds = load_credentials(environ={"ALPHAPULSE_BINANCE_API_KEY": "k1",
                                      "ALPHAPULSE_BINANCE_API_SECRET": "s1"})
    assert (creds.api_key, creds.secret) == ("k1", b"s1")
    with pytest.raises(ApiKeyError, match="ALPHAPULSE_BINANCE_API_SECRET"):
        load_credentials(environ={"ALPHAPULSE_BINANCE_API_KEY": "k1"})


def test_load_credentials_reads_a_private_file_and_refuses_an_open_one(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text('{"api_key": "k2", "secret": "topsecret"}')
    path.chmod(0o600)
    assert load_credentials(path).secret == b"topsecret"
    path.chmod(0o644)
    with pytest.raises(ApiKeyError, match="wider than 0600") as info:
        load_credentials(path)
    assert "topsecret" not in str(info.value)


@pytest.mark.parametrize("body", ["not json", "{}", '{"api_key": "k"}', "[]", '"x"'])
def test_load_credentials_refuses_malformed_files_without_echoing_them(tmp_path, body):
    path = tmp_path / "keys.json"
    path.write_text(body)
    path.chmod(0o600)
    with pytest.raises(ApiKeyError) as info:
        load_credentials(path)
    assert body not in str(info.value) or body in ("{}", "[]")


def test_load_credentials_names_a_missing_file(tmp_path):
    with pytest.raises(ApiKeyError, match=r"missing\.json"):
        load_credentials(tmp_path / "missing.json")
