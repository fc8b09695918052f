"""Reconciliation logic without a chain: baselines, what the books say, when a mismatch alerts."""

from __future__ import annotations

import json

import pytest

from alphapulse.errors import ConfigError
from nodes.portfolio.books import Books
from nodes.portfolio.reconcile import Reconciler, resolve_target
from tests.nodes.portfolio.results import USDC, WETH, result

ARB = "0x" + "aa" * 20
RCPT = "0x" + "bb" * 20


def _books(*results) -> Books:
    books = Books()
    for res, detail in results:
        folded = books.fold([res, detail], 1)
        books.apply(folded.bookings, folded.submitted)
    return books


def _settings(**kw) -> dict:
    base = {"manifest": "", "rpc_url": "", "flash_arbitrage": "", "recipient": "",
            "profit_tokens": "USDC"}
    return {**base, **kw}


def test_the_recipient_is_booked_baseline_plus_what_was_paid_after_it():
    rec = Reconciler(ARB, RCPT, lag=2, checks=2)
    books = _books(result(1, chain_profit=500, block=10))
    assert rec.pairs([USDC, USDC]) == [(USDC, ARB), (USDC, RCPT)]
    assert rec.target_block(12) == 10
    # the baseline at block 10 already holds trade 1's profit
    assert rec.observe(10, {(USDC, ARB): 0, (USDC, RCPT): 7_500}, books) == []
    assert rec.target_block(12) is None and rec.target_block(13) == 11
    books = _books(result(1, chain_profit=500, block=10), result(2, chain_profit=300, block=11),
                   result(3, chain_profit=1, block=13))  # block 13 is past the check
    assert rec.booked((USDC, RCPT), 12, books) == 7_800
    assert rec.booked((USDC, ARB), 12, books) == 0
    assert rec.observe(12, {(USDC, ARB): 0, (USDC, RCPT): 7_800}, books) == []
    assert rec.differences == {(USDC, ARB): 0, (USDC, RCPT): 0}


def test_a_difference_alerts_once_after_two_checks_in_a_row():
    rec = Reconciler(ARB, RCPT, lag=0, checks=2)
    books = Books()
    rec.observe(1, {(USDC, RCPT): 100}, books)
    assert rec.observe(2, {(USDC, RCPT): 142}, books) == []  # once: maybe a late result
    assert rec.observe(3, {(USDC, RCPT): 142}, books, conclusive=False) == []
    (m,) = rec.observe(4, {(USDC, RCPT): 142}, books)
    assert (m.token, m.holder, m.role, m.block, m.difference) == (USDC, RCPT, "recipient", 4, 42)
    assert rec.observe(5, {(USDC, RCPT): 142}, books) == []  # the same difference: said already
    rec.observe(6, {(USDC, RCPT): 90}, books)
    (m,) = rec.observe(7, {(USDC, RCPT): 90}, books)  # a new difference persists: said again
    assert m.difference == -10
    assert rec.observe(8, {(USDC, RCPT): 100}, books) == []  # matched again: all cleared
    rec.observe(9, {(USDC, RCPT): 142}, books)
    assert len(rec.observe(10, {(USDC, RCPT): 142}, books)) == 1
    assert rec.observe(10, {(USDC, RCPT): 1}, books) == []  # a block already checked


def test_a_difference_that_moves_each_check_never_persists():
    rec = Reconciler(ARB, RCPT, lag=0, checks=2)
    rec.observe(1, {(WETH, ARB): 0}, Books())
    assert all(rec.observe(b, {(WETH, ARB): b}, Books()) == [] for b in range(2, 8))


def test_a_contract_that_keeps_its_profit_is_the_one_holder_paid():
    rec = Reconciler(ARB, ARB, lag=0, checks=1)
    assert rec.pairs([USDC]) == [(USDC, ARB)] and rec.roles == {ARB: "contract"}
    rec.observe(1, {(USDC, ARB): 5}, Books())
    assert rec.observe(2, {(USDC, ARB): 9}, _books(result(1, chain_profit=4, block=2))) == []


def test_an_unchecked_recipient_leaves_only_the_contract():
    rec = Reconciler(ARB, RCPT, lag=0, checks=1, check_recipient=False)
    assert rec.pairs([USDC]) == [(USDC, ARB)]
    rec.observe(1, {(USDC, ARB): 0}, Books())
    assert rec.observe(2, {(USDC, ARB): 0}, _books(result(1, chain_profit=4, block=2))) == []


def test_the_target_comes_from_settings_or_the_manifest(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({
        "rpc_url": "http://127.0.0.1:1", "flash_arbitrage": ARB, "deployer": RCPT,
        "tokens": {"USDC": {"address": USDC.upper().replace("0X", "0x")}}}))
    t = resolve_target(_settings(manifest=str(manifest)), "/nonexistent")
    assert (t.rpc_url, t.arbitrage, t.recipient, t.tokens) == ("http://127.0.0.1:1", ARB, RCPT, (USDC,))
    assert t.labels[USDC] == "USDC"
    assert not t.check_recipient  # the deployer by default: it trades for the simulator
    given = _settings(rpc_url="http://x:1", flash_arbitrage=ARB, recipient=ARB, profit_tokens=WETH)
    t = resolve_target(given, "/nonexistent")  # everything given: no manifest needed
    assert (t.arbitrage, t.recipient, t.tokens, t.check_recipient) == (ARB, ARB, (WETH,), True)
    with pytest.raises(ConfigError, match="manifest"):
        resolve_target(_settings(), str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="not an address"):
        resolve_target({**given, "profit_tokens": "0xnothex"}, "/nonexistent")
    with pytest.raises(ConfigError, match="not an address"):
        resolve_target(_settings(manifest=str(manifest), profit_tokens="DOGE"), "/nonexistent")
