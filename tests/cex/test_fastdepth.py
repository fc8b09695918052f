"""FastBinanceFeed: byte-identical frames and equal error counts to BinanceFeed's Python path.

Seeded random sessions drive a :class:`BinanceFeed` and a :class:`FastBinanceFeed` (around a
second BinanceFeed) with the same operations: depth updates of books deeper than 50 levels
(levels removed with quantity 0, present or not, a price set twice in one event), gaps, stale
and replayed events, malformed and merely unusual messages (other key orders, whitespace,
escapes, floats, precision loss), trades and book tickers, snapshot replies (good, older than
the buffer, failed, malformed), reconnections. After every operation the encoded frames, the
REST requests and the error counters must be equal.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
import pytest

from bench._cex_stream import generate
from bench.cex import verify
from cex.binance import fastkernels as K
from cex.binance.fastdepth import FastBinanceFeed
from cex.binance.feed import BinanceFeed
from cex.feed import FeedOutput, RestReply, RestRequest
from cex.fixed import format_q8, parse_q8
from mesh.protocol import OrderBook, UnknownTLV, decode_frame, encode_frame
from mesh.protocol.constants import RelayDomain
from nodes.collector_cex.fastring import depth_burst_to_ring
from shm.reader import RingReader
from shm.segment import list_ring_names, unlink
from shm.writer import RingWriter

SYMBOLS = ["ETHUSDT", "BTCUSDT", "ETHBTC"]
MD = int(RelayDomain.MARKET_DATA)
Q = 100_000_000


def encode(frames: list[Any], recv_ns: int, seq: int) -> list[bytes]:
    return [encode_frame(f, source=1, sequence=seq + i, timestamp_ns=recv_ns, domain=MD)
            for i, f in enumerate(frames)]


class Truth:
    """One symbol's true book at the venue and its update id."""

    def __init__(self, rng: random.Random, mid: int) -> None:
        self.rng = rng
        self.mid = mid
        self.id = rng.randrange(1, 10**9)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        for i in range(1, rng.randrange(40, 130)):
            self.bids[mid - i * Q // 100] = rng.randrange(1, 10**9)
            self.asks[mid + i * Q // 100] = rng.randrange(1, 10**9)

    def changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        rng = self.rng
        out: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        for side, book, sign in ((0, self.bids, -1), (1, self.asks, 1)):
            for _ in range(rng.randrange(0, 6)):
                price = self.mid + sign * rng.randrange(1, 160) * Q // 100
                size = 0 if rng.random() < 0.3 else rng.randrange(1, 10**10)
                if size:
                    book[price] = size
                else:
                    book.pop(price, None)     # absent or not: quantity 0
                out[side].append((price, size))
            if out[side] and rng.random() < 0.1:
                price, _ = out[side][0]       # the same price twice in one event
                size = rng.randrange(0, 10**8)
                out[side].append((price, size))
                if size:
                    book[price] = size
                else:
                    book.pop(price, None)
        return out

    def snapshot(self) -> bytes:
        bids = sorted(self.bids.items(), reverse=True)
        asks = sorted(self.asks.items())
        return orjson.dumps({"lastUpdateId": self.id,
                             "bids": [[dec(p, self.rng), dec(s, self.rng)] for p, s in bids],
                             "asks": [[dec(p, self.rng), dec(s, self.rng)] for p, s in asks]})


def dec(value: int, rng: random.Random) -> str:
    """Decimal text as Binance writes it (8 decimals) or in another exact spelling."""
    r = rng.random()
    if r < 0.7:
        return format_q8(value, trim=False)
    if r < 0.9:
        return format_q8(value)
    return format_q8(value, trim=False) + "000"


def depth_json(symbol: str, first: int, last: int, bids: list[tuple[int, int]],
               asks: list[tuple[int, int]], e_ms: int, rng: random.Random) -> dict[str, Any]:
    return {"stream": f"{symbol.lower()}@depth@100ms",
            "data": {"e": "depthUpdate", "E": e_ms, "s": symbol, "U": first, "u": last,
                     "b": [[dec(p, rng), dec(s, rng)] for p, s in bids],
                     "a": [[dec(p, rng), dec(s, rng)] for p, s in asks]}}


def mutate(msg: dict[str, Any], rng: random.Random) -> bytes | str:
    """A malformed or unusual rendering of a depth message."""
    data = msg["data"]
    choice = rng.randrange(16)
    if choice == 0:
        return orjson.dumps(msg)[:-rng.randrange(1, 20)]              # truncated
    if choice == 1:
        return json.dumps(msg)                                         # spaces (valid JSON)
    if choice == 2:
        return orjson.dumps({"data": data, "stream": msg["stream"]})   # key order
    if choice == 3:
        return orjson.dumps(msg).replace(b"@depth", b"\\u0040depth")   # an escape
    if choice == 4 and data["b"]:
        data["b"][0][0] = "1.123456789"                                # precision loss
    elif choice == 5 and data["a"]:
        data["a"][0][1] = rng.choice(["-1", "1e3", "", " 1", "1.", ".5", "0x1", "١"])
    elif choice == 6:
        data["U"] = data["u"] + 1                                      # U > u
    elif choice == 7:
        data["E"] = float(data["E"])
    elif choice == 8:
        data["u"] = str(data["u"])
    elif choice == 9:
        data["b"] = [[*lv, "x"] for lv in data["b"]] or [["1"]]
    elif choice == 10:
        data["x"] = 1                                                  # extra field
    elif choice == 11:
        del data["s"]                                                  # the Python path ignores s
    elif choice == 12:
        data["s"] = "OTHER"
    elif choice == 13:
        return orjson.dumps(msg) + b" "
    elif choice == 14:
        return orjson.dumps(msg).decode()                              # text, not bytes
    else:
        data["a"] = [[str(Q * 10**3), "1"]]                            # beyond 10 digits x 1e8
    return orjson.dumps(msg)


class Session:
    """Both feeds, fed the same operations; asserts equal outputs after each (in burst mode:
    after each burst of messages, which the fast feed writes into a real ring)."""

    def __init__(self, ring_kernel: bool, ring: tuple[RingWriter, RingReader] | None = None,
                 rng: random.Random | None = None) -> None:
        self.py = BinanceFeed(symbols=SYMBOLS)
        self.fast = FastBinanceFeed(BinanceFeed(symbols=SYMBOLS), capacity=16)
        self.ring_kernel = ring_kernel
        self.ring = ring
        self.rng = rng or random.Random(0)
        self.pending: list[tuple[bytes | str, int]] = []
        self.burst = 1
        self.seq = 0
        self.requests: list[RestRequest] = []
        self.applied = 0

    def flush(self) -> None:
        """Run the pending burst through both feeds; compare the ring's frames."""
        if not self.pending or self.ring is None:
            return
        writer, reader = self.ring
        burst, self.pending = self.pending, []
        expected: list[bytes] = []
        py_requests: list[RestRequest] = []
        for raw, recv in burst:
            a = self.py.on_message(raw, recv)
            expected += encode(a.frames, recv, self.seq + len(expected))
            py_requests += a.requests
        fast_requests: list[RestRequest] = []

        def emit(out: FeedOutput, recv: int, seq: int) -> int:
            for data in encode(out.frames, recv, seq):
                writer.write(data)
            fast_requests.extend(out.requests)
            return seq + len(out.frames)

        after = self.fast.write_burst([m for m, _ in burst], [t for _, t in burst], self.seq,
                                      emit, depth_burst_to_ring, writer.words, writer.data,
                                      writer.state)
        got = reader.drain(len(expected) + 1)
        assert got == expected
        assert after == self.seq + len(expected)
        self.seq = after
        assert fast_requests == py_requests
        assert +self.fast.errors == +self.py.errors
        self.requests += py_requests
        self.burst = self.rng.randrange(1, 25)

    def both(self, py_call: Callable[[], FeedOutput], fast_call: Callable[[], FeedOutput],
             recv_ns: int) -> None:
        a, b = py_call(), fast_call()
        assert encode(b.frames, recv_ns, self.seq) == encode(a.frames, recv_ns, self.seq)
        self.seq += len(a.frames)
        assert b.requests == a.requests
        assert +self.fast.errors == +self.py.errors
        self.requests += a.requests

    def message(self, raw: bytes | str, recv_ns: int) -> None:
        if self.ring is not None:
            self.pending.append((raw, recv_ns))
            if len(self.pending) >= self.burst:
                self.flush()
            return
        if not self.ring_kernel:
            self.both(lambda: self.py.on_message(raw, recv_ns),
                      lambda: self.fast.on_message(raw, recv_ns), recv_ns)
            return
        a = self.py.on_message(raw, recv_ns)
        expected = encode(a.frames, recv_ns, self.seq)
        status, b = self.fast.write_message(raw, recv_ns, self.seq, K.depth_frame)
        got = [self.fast.frame.tobytes()] if status == K.APPLIED else \
            encode(b.frames, recv_ns, self.seq)
        self.applied += status == K.APPLIED
        assert got == expected
        self.seq += len(expected)
        assert b.requests == a.requests
        assert +self.fast.errors == +self.py.errors
        self.requests += a.requests

    def reply(self, request: RestRequest, status: int, body: bytes, recv_ns: int) -> None:
        self.flush()
        reply = RestReply(request, status, body)
        self.both(lambda: self.py.on_snapshot(reply, recv_ns),
                  lambda: self.fast.on_snapshot(reply, recv_ns), recv_ns)

    def connect(self, now: int) -> None:
        self.flush()
        self.both(lambda: self.py.on_connect(now), lambda: self.fast.on_connect(now), now)

    def disconnect(self, now: int) -> None:
        self.flush()
        self.both(lambda: FeedOutput(self.py.on_disconnect(now), []),
                  lambda: FeedOutput(self.fast.on_disconnect(now), []), now)


def run_session(seed: int, steps: int, ring_kernel: bool,
                ring: tuple[RingWriter, RingReader] | None = None) -> Session:
    rng = random.Random(seed)
    s = Session(ring_kernel, ring, random.Random(seed + 1))
    truths = {sym: Truth(rng, rng.randrange(10, 5000) * Q) for sym in SYMBOLS}
    sent: list[bytes] = []
    now = 1_700_000_000_000_000_000
    s.connect(now)
    for _ in range(steps):
        now += rng.randrange(1, 10**6)
        r = rng.random()
        if s.requests and r < 0.08:
            request = s.requests.pop(rng.randrange(len(s.requests)))
            truth = truths[request.key]
            kind = rng.random()
            if kind < 0.75:
                s.reply(request, 200, truth.snapshot(), now)
            elif kind < 0.85:
                s.reply(request, 500, b'{"code":-1003,"msg":"busy"}', now)
            else:
                s.reply(request, 200, truth.snapshot()[:-3], now)
            continue
        if r < 0.003:
            s.disconnect(now)
            s.connect(now)
            s.requests.clear()
            continue
        sym = rng.choice(SYMBOLS)
        truth = truths[sym]
        if r < 0.08:
            trade = {"stream": f"{sym.lower()}@trade",
                     "data": {"e": "trade", "E": now // 10**6, "s": sym, "t": rng.randrange(10**6),
                              "p": dec(truth.mid, rng), "q": dec(rng.randrange(1, Q), rng),
                              "T": now // 10**6, "m": rng.random() < 0.5, "M": True}}
            s.message(orjson.dumps(trade), now)
            continue
        if r < 0.1 and sent:
            s.message(rng.choice(sent[-50:]), now)                     # stale / replayed
            continue
        first = truth.id + 1
        truth.id += rng.randrange(1, 4)
        bids, asks = truth.changes()
        msg = depth_json(sym, first, truth.id, bids, asks, now // 10**6, rng)
        if r < 0.13:
            continue                                                   # lost: a gap follows
        if r < 0.2:
            s.message(mutate(msg, rng), now)
            continue
        raw = orjson.dumps(msg)
        sent.append(raw)
        s.message(raw, now)
    s.flush()
    return s


@pytest.mark.parametrize("seed", range(6))
def test_fast_feed_frames_and_errors_equal_the_python_feed(seed: int) -> None:
    s = run_session(seed, 3000, ring_kernel=False)
    assert s.fast.fast > 500                         # the fast path did the bulk of the work
    assert s.fast.fallbacks["gap"] > 0 and s.fast.fallbacks["shape"] > 0
    assert s.py.errors["stale"] > 0 and s.py.errors["gap"] > 0


@pytest.mark.parametrize("seed", range(100, 103))
def test_frame_kernel_writes_the_frames_encode_frame_writes(seed: int) -> None:
    s = run_session(seed, 3000, ring_kernel=True)
    assert s.applied > 500


@pytest.fixture
def ring(unique_name: str) -> Iterator[tuple[RingWriter, RingReader]]:
    writer = RingWriter.create("md", "fast", namespace=unique_name, capacity=1 << 22)
    reader = RingReader.attach("md", "fast", namespace=unique_name)
    yield writer, reader
    reader.close()
    writer.close()
    for name in list_ring_names(unique_name):
        unlink(name)


@pytest.mark.parametrize("seed", range(200, 203))
def test_bursts_into_a_ring_equal_the_python_feed(seed: int,
                                                  ring: tuple[RingWriter, RingReader]) -> None:
    s = run_session(seed, 3000, ring_kernel=True, ring=ring)
    assert s.fast.fast > 500 and s.fast.refused == 0
    assert ring[1].frames_lost == 0


def test_bench_traffic_is_handled_entirely_by_the_compiled_path() -> None:
    symbols = ["ETHUSDT", "BTCUSDT"]
    traffic = generate(symbols, 400, 100, 300, seed=5)
    assert verify(traffic, symbols) == 500          # every frame compared, none declined


def test_book_deeper_than_the_arrays_grows_them() -> None:
    feed = FastBinanceFeed(BinanceFeed(symbols=["ETHUSDT"]), capacity=8)
    feed.on_connect(0)
    out = feed.on_message(orjson.dumps(depth_json("ETHUSDT", 10, 10, [], [], 1, random.Random(0))), 1)
    snap = orjson.dumps({"lastUpdateId": 10, "bids": [[str(100 - i), "1"] for i in range(20)],
                         "asks": [[str(101 + i), "1"] for i in range(20)]})
    feed.on_snapshot(RestReply(out.requests[0], 200, snap), 2)
    bids = [(parse_q8(f"{50 + i}.5"), Q) for i in range(40)]
    out = feed.on_message(orjson.dumps(depth_json("ETHUSDT", 11, 11, bids, [], 3, random.Random(0))), 4)
    assert feed.book.shape[1] >= 60 and feed.fast == 1
    (frame,) = out.frames
    book = decode_frame(encode_frame(frame, source=1, domain=MD)).tlvs[0]
    assert isinstance(book, OrderBook)
    assert [lv.price for lv in book.bids[:3]] == [100 * Q, 99 * Q, 98 * Q]
    assert len(book.bids) == 50 and book.sequence == 11


def test_applied_update_is_one_encoded_order_book() -> None:
    feed = FastBinanceFeed(BinanceFeed(symbols=["ETHUSDT"]))
    feed.on_connect(0)
    rng = random.Random(1)
    out = feed.on_message(orjson.dumps(depth_json("ETHUSDT", 5, 6, [], [], 7, rng)), 1)
    snap = orjson.dumps({"lastUpdateId": 5, "bids": [["3000.5", "2"]], "asks": [["3001", "1"]]})
    feed.on_snapshot(RestReply(out.requests[0], 200, snap), 2)
    raw = (b'{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,'
           b'"s":"ETHUSDT","U":7,"u":9,"b":[["3000.50000000","0.00000000"],["2999.9","1.25"]],'
           b'"a":[["3001.00000000","3.10000000"]]}}')
    (frame,) = feed.on_message(raw, 3).frames
    (tlv,) = frame
    assert isinstance(tlv, UnknownTLV) and tlv.tlv_type == OrderBook.TLV_TYPE
    book = decode_frame(encode_frame(frame, source=1, domain=MD)).tlvs[0]
    assert book.sequence == 9 and book.snapshot_timestamp_ns == 1_700_000_000_123_000_000
    assert [(lv.price, lv.size) for lv in book.bids] == [(299_990_000_000, 125_000_000)]
    assert [(lv.price, lv.size) for lv in book.asks] == [(300_100_000_000, 310_000_000)]
    assert feed.fast == 1 and feed.fallbacks == {"not_live": 1}  # the first, buffered


@pytest.mark.parametrize("text", ["0", "7", "0.1", "00012.5", "1.100000000000",
                                  "9999999999.99999999", "0000000000000000000001"])
def test_decimal_scan_equals_parse_q8(text: str) -> None:
    buf = np.frombuffer(text.encode() + b'"', np.uint8)
    value, end = K._q8(buf, 0, buf.shape[0])
    assert (value, end) == (parse_q8(text), len(text))


@pytest.mark.parametrize("text", ["", "-1", "1e3", "1.", ".5", "1.000000001", "12345678901",
                                  "1 ", "+1"])
def test_decimal_scan_declines_what_it_may_not_accept(text: str) -> None:
    buf = np.frombuffer(text.encode() + b'"', np.uint8)
    assert K._q8(buf, 0, buf.shape[0])[1] == -1
