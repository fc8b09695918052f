"""``alphapulse decode | encode`` returns the original bytes; bad input exits 2 with one line."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from mesh.protocol import ArbitrageOpportunity, PoolSync, UnknownTLV, encode_frame
from tests.protocol.test_golden_vectors import EX1, EX3, EX5


def alphapulse(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mesh", *args], input=stdin,
                          capture_output=True, timeout=60, check=False)


def test_decode_then_encode_returns_the_original_hex_lines():
    frames = [EX1, EX3, EX5,
              encode_frame([ArbitrageOpportunity(amount_in=10**30, pools=(bytes(20),),
                                                 tokens=(b"\1" * 20, b"\2" * 20), pool_kinds=(2,),
                                                 hop_fee_ppm=(500,))], source=20).hex()]
    decoded = alphapulse("decode", stdin="\n".join(frames).encode())
    assert decoded.returncode == 0, decoded.stderr
    lines = decoded.stdout.decode().splitlines()
    assert len(lines) == 4
    assert orjson.loads(lines[0])["tlvs"][0]["name"] == "Trade"
    encoded = alphapulse("encode", stdin=decoded.stdout)
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout.decode().split() == frames


def test_decode_reads_a_raw_byte_stream_on_stdin():
    raw = bytes.fromhex(EX1) + bytes.fromhex(EX3)
    out = alphapulse("decode", stdin=raw)
    assert out.returncode == 0
    assert [orjson.loads(x)["header"]["sequence"] for x in out.stdout.splitlines()] == [42, 1001]


def test_zero_checksum_frames_need_the_flag_and_round_trip_with_it():
    frame = encode_frame([PoolSync(reserve0=1)], source=4, with_checksum=False).hex()
    assert alphapulse("decode", frame).returncode == 2
    out = alphapulse("decode", "--allow-zero-checksum", frame)
    assert out.returncode == 0
    assert alphapulse("encode", stdin=out.stdout).stdout.decode().strip() == frame


def test_unknown_tlvs_survive_the_round_trip():
    frame = encode_frame([UnknownTLV(230, b"future")], source=1).hex()
    out = alphapulse("decode", frame)
    assert orjson.loads(out.stdout)["tlvs"][0] == {"type": 230, "name": None, "raw": b"future".hex()}
    assert alphapulse("encode", stdin=out.stdout).stdout.decode().strip() == frame


@pytest.mark.parametrize(("args", "stdin", "needle"), [
    (["decode", "zz"], b"", b"not hex"),
    (["decode", EX1[:-2]], b"", b"TruncatedFrame"),
    (["decode", EX1[:56] + "00" + EX1[58:]], b"", b"BadChecksum"),
    (["decode"], bytes.fromhex(EX1)[:40], b"TruncatedFrame"),
    (["encode", "{not json"], b"", b"not JSON"),
    (["encode", '{"header": {"domain": 1, "source": 1}, "tlvs": [{"name": "Nope"}]}'], b"",
     b"unknown type"),
    (["encode", '{"header": {"domain": 1, "source": 1}, "tlvs": [{"name": "PoolSync", '
      '"fields": {"reserve0": "-5"}}]}'], b"", b"out of range"),
    (["types", "--layout", "Nope"], b"", b"no type named"),
    (["frobnicate"], b"", b"invalid choice"),
])
def test_bad_input_prints_one_clear_line_and_exits_2(args, stdin, needle):
    out = alphapulse(*args, stdin=stdin)
    assert out.returncode == 2
    assert needle in out.stderr
    assert b"Traceback" not in out.stderr


def test_a_bad_frame_does_not_stop_the_good_ones():
    out = alphapulse("decode", stdin=f"{EX1}\nnothex\n{EX3}\n".encode())
    assert out.returncode == 2
    assert len(out.stdout.splitlines()) == 2
    assert b"line 2" in out.stderr


def test_types_lists_every_type_with_number_domain_and_size():
    out = alphapulse("types", "--json")
    rows = [orjson.loads(x) for x in out.stdout.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["PoolSync"] == {"type": 16, "name": "PoolSync", "domain": "MARKET_DATA",
                                   "size": 160, "variable": False, "origin": "upstream"}
    assert by_name["ArbitrageOpportunity"]["size"] == 368
    layout = alphapulse("types", "--layout", "PoolSync").stdout.decode()
    assert "   64     32  address+pad12  pool_address" in layout
