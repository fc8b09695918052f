"""Submission paths on the devnet: public sends, relayed bundles, and the public fallback when
the relay is slow, wrong, unreachable or lets the target block pass; each transaction is mined
once either way."""

from __future__ import annotations

import pytest

from alphapulse.errors import ChainError, ConfigError
from alphapulse.ports import free_port
from contracts.anvil import mine, set_automine
from contracts.keccak import keccak256
from contracts.relay import RelayServer
from mesh.protocol.constants import SubmitPath
from nodes.executor.submit import (
    ERROR_KINDS,
    PublicSubmitter,
    RelaySubmitter,
    SubmitError,
    make_submitter,
)
from tests.contracts.bare import FakeNode
from tests.devnet_fixtures import Net
from tests.nodes.executor_submit.helpers import in_pool_or_mined, mined_block, transfer

pytestmark = pytest.mark.chain


def test_public_submission_is_mined_and_counted(net: Net) -> None:
    public = PublicSubmitter(net.chain)
    tx = transfer(net)
    head = net.chain.block_number()
    submission = public.submit(tx.raw, head + 1)
    assert submission.tx_hash == tx.tx_hash == keccak256(tx.raw)
    assert submission.path == SubmitPath.PUBLIC and submission.bundle_hash == b""
    assert mined_block(net, tx.tx_hash) == head + 1
    assert public.counts["public"] == 1


def test_public_resend_of_a_pending_transaction_is_accepted(net: Net) -> None:
    public = PublicSubmitter(net.chain)
    set_automine(net.chain, False)
    tx = transfer(net)
    public.submit(tx.raw, 0)
    assert public.fallback(tx.raw).tx_hash == tx.tx_hash  # the node already holds it
    assert public.counts["public"] == 1 and public.counts["public_known"] == 1
    mine(net.chain)
    assert mined_block(net, tx.tx_hash) > 0


def test_public_refusal_is_a_typed_counted_error(net: Net) -> None:
    public = PublicSubmitter(net.chain)
    tx = transfer(net)
    public.submit(tx.raw, 0)
    mined_block(net, tx.tx_hash)
    with pytest.raises(SubmitError) as info:
        public.submit(tx.raw, 0)  # mined: its nonce is too low now
    assert info.value.kind == "public_refused" and not info.value.maybe_sent
    assert isinstance(info.value, ChainError) and "0x" + tx.tx_hash.hex() in str(info.value)
    assert tx.raw.hex() not in str(info.value)
    assert public.counts["public_refused"] == 1


def test_relay_submission_is_mined_in_its_target_block(net: Net) -> None:
    with RelayServer(net.chain.url) as relay:
        submitter = RelaySubmitter(relay.url, PublicSubmitter(net.chain), timeout_s=10.0)
        tx = transfer(net)
        head = net.chain.block_number()
        submission = submitter.submit(tx.raw, head + 1)
        assert submission.path == SubmitPath.RELAY and submission.tx_hash == tx.tx_hash
        assert submission.bundle_hash == keccak256(tx.tx_hash) and submission.relay_error == ""
        assert mined_block(net, tx.tx_hash) == head + 1
        assert relay.stats.forwarded == 1
    assert submitter.counts["relayed"] == 1 and submitter.public.counts["public"] == 0


def test_relay_timeout_falls_back_to_public_at_once(net: Net) -> None:
    with RelayServer(net.chain.url, delay_s=30.0) as relay:
        submitter = RelaySubmitter(relay.url, PublicSubmitter(net.chain), timeout_s=0.3)
        tx = transfer(net)
        submission = submitter.submit(tx.raw, net.chain.block_number() + 1)
        assert submission.path == SubmitPath.RELAY_THEN_PUBLIC
        assert submission.relay_error == "relay_timeout" and submission.tx_hash == tx.tx_hash
        assert mined_block(net, tx.tx_hash)
    assert relay.stats.received == 0  # stopping cut the slow request short: nothing relayed late
    assert submitter.counts["relay_timeout"] == 1 and submitter.counts["fallback"] == 1
    assert submitter.public.counts["public"] == 1


def test_relay_json_rpc_error_falls_back_to_public(net: Net) -> None:
    # anvil itself does not know eth_sendBundle: a real JSON-RPC error answer
    submitter = RelaySubmitter(net.chain.url, PublicSubmitter(net.chain), timeout_s=10.0)
    tx = transfer(net)
    submission = submitter.submit(tx.raw, net.chain.block_number() + 1)
    assert submission.path == SubmitPath.RELAY_THEN_PUBLIC and submission.relay_error == "relay_error"
    assert mined_block(net, tx.tx_hash)
    assert submitter.counts["relay_error"] == 1


def test_relay_refusing_the_bundle_falls_back_to_public(net: Net) -> None:
    with RelayServer(net.chain.url) as relay:
        submitter = RelaySubmitter(relay.url, PublicSubmitter(net.chain), timeout_s=10.0)
        tx = transfer(net)
        submission = submitter.submit(tx.raw, -1)  # "-0x1" is no block number: -32602
        assert submission.path == SubmitPath.RELAY_THEN_PUBLIC and submission.relay_error == "relay_error"
        assert relay.stats.rejected == 1
    assert mined_block(net, tx.tx_hash)


@pytest.mark.parametrize(("script", "kind"), [
    ({"answers": {"eth_sendBundle": {"bundleHash": "0x12"}}}, "relay_bad_answer"),
    ({"answers": {"eth_sendBundle": "0x" + "00" * 32}}, "relay_bad_answer"),
    ({"answers": {"eth_sendBundle": {"bundleHash": "0x" + "zz" * 32}}}, "relay_bad_answer"),
    ({"answers": {"eth_sendBundle": lambda params: {"jsonrpc": "2.0", "id": 999,
                                                     "result": {"bundleHash": "0x" + "11" * 32}}}},
     "relay_bad_answer"),
    ({"raw": b"<html>bad gateway</html>"}, "relay_bad_answer"),
    ({"answers": {"eth_sendBundle": lambda params: {"jsonrpc": "2.0", "id": 1, "error": "boom"}}},
     "relay_error"),
], ids=["short-hash", "hash-not-in-object", "hash-not-hex", "wrong-id", "not-json", "error-not-object"])
def test_malformed_relay_answer_falls_back_to_public(net: Net, script: dict, kind: str) -> None:
    with FakeNode() as fake:
        fake.answers.update(script.get("answers", {}))
        fake.raw = script.get("raw")
        submitter = RelaySubmitter(fake.url, PublicSubmitter(net.chain), timeout_s=10.0)
        tx = transfer(net)
        submission = submitter.submit(tx.raw, net.chain.block_number() + 1)
    assert (submission.path, submission.relay_error) == (SubmitPath.RELAY_THEN_PUBLIC, kind)
    assert fake.calls == ["eth_sendBundle"]
    assert mined_block(net, tx.tx_hash)
    assert submitter.counts[kind] == 1


def test_unreachable_relay_falls_back_to_public(net: Net) -> None:
    submitter = RelaySubmitter(f"http://127.0.0.1:{free_port()}", PublicSubmitter(net.chain), timeout_s=5.0)
    tx = transfer(net)
    submission = submitter.submit(tx.raw, net.chain.block_number() + 1)
    assert submission.relay_error == "relay_unreachable"
    assert mined_block(net, tx.tx_hash)


def test_bundle_not_included_by_its_target_goes_public_on_fallback(net: Net) -> None:
    with RelayServer(net.chain.url, drop=True) as relay:
        submitter = RelaySubmitter(relay.url, PublicSubmitter(net.chain), timeout_s=10.0)
        tx = transfer(net)
        target = net.chain.block_number() + 1
        assert submitter.submit(tx.raw, target).path == SubmitPath.RELAY
        mine(net.chain)
        assert net.chain.block_number() == target and not in_pool_or_mined(net, tx.tx_hash)
        submission = submitter.fallback(tx.raw)
    assert (submission.path, submission.relay_error) == (SubmitPath.RELAY_THEN_PUBLIC, "not_included")
    assert mined_block(net, tx.tx_hash) == target + 1
    assert submitter.counts["relayed"] == 1 and submitter.counts["fallback"] == 1


def test_failing_public_fallback_raises_after_counting_the_relay_failure(net: Net) -> None:
    submitter = RelaySubmitter(net.chain.url, PublicSubmitter(net.chain), timeout_s=10.0)
    tx = transfer(net)
    PublicSubmitter(net.chain).submit(tx.raw, 0)
    mined_block(net, tx.tx_hash)
    with pytest.raises(SubmitError) as info:
        submitter.submit(tx.raw, net.chain.block_number() + 1)
    assert info.value.kind == "public_refused"
    assert submitter.counts["relay_error"] == 1 and submitter.public.counts["public_refused"] == 1


def test_make_submitter_builds_the_configured_path(net: Net) -> None:
    assert isinstance(make_submitter("public", net.chain), PublicSubmitter)
    relay = make_submitter("relay", net.chain, "http://127.0.0.1:8550", 0.25)
    assert isinstance(relay, RelaySubmitter) and relay.timeout_s == 0.25
    for kind, url, timeout in (("mempool", "", 1.0), ("relay", "", 1.0), ("relay", "ftp://x", 1.0),
                               ("relay", "http://127.0.0.1:1", 0.0)):
        with pytest.raises(ConfigError):
            make_submitter(kind, net.chain, url, timeout)


def test_error_kinds_are_all_listed() -> None:
    assert len(set(ERROR_KINDS)) == len(ERROR_KINDS) == 7
    assert all(kind.startswith(("relay_", "public_")) for kind in ERROR_KINDS)
