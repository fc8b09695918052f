"""The fast EIP-1559 signer: byte for byte what eth-account signs, accepted by anvil, strict on
ranges, and silent about its key."""

from __future__ import annotations

import random

import pytest
from eth_hash.auto import keccak as eth_hash_keccak
from eth_utils import to_checksum_address

from alphapulse.errors import ChainError
from contracts.accounts import dev_account
from contracts.keccak import keccak256
from contracts.signer import FastSigner, SignError, rlp_bytes, rlp_int
from tests.devnet_fixtures import Net

CHAIN_ID = 31337
U256 = 2**256


def _random_tx(rng: random.Random, index: int) -> dict:
    """A random type-2 transaction near the encodings' edges (0, 0x7f, 0x80, 55/56 bytes...)."""
    max_fee = rng.choice([0, 1, 0x7F, 0x80, 10**9, rng.randrange(2**64), rng.randrange(U256), U256 - 1])
    return {
        "nonce": rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x100, rng.randrange(2**64 - 1), 2**64 - 2]),
        "gas": rng.choice([1, 21_000, 0x80, rng.randrange(1, 2**64)]),
        "max_fee": max_fee,
        "priority_fee": rng.choice([0, max_fee, rng.randrange(max_fee + 1)]),
        "to": None if index % 25 == 0 else rng.randbytes(20),
        "data": rng.randbytes(rng.choice([0, 1, 55, 56, rng.randrange(2001)])),
        "value": rng.choice([0, 1, rng.randrange(10**18), rng.randrange(U256)]),
    }


def _eth_account_raw(tx: dict, chain_id: int = CHAIN_ID, index: int = 0) -> bytes:
    fields = {"type": 2, "chainId": chain_id, "nonce": tx["nonce"], "gas": tx["gas"],
              "maxFeePerGas": tx["max_fee"], "maxPriorityFeePerGas": tx["priority_fee"],
              "value": tx["value"], "data": tx["data"]}
    if tx["to"] is not None:
        fields["to"] = to_checksum_address(tx["to"])
    return bytes(dev_account(index).sign_transaction(fields).raw_transaction)


@pytest.mark.parametrize(("seed", "chain_id", "account"), [(1, CHAIN_ID, 0), (2, 1, 3), (3, 2**40 + 7, 5)])
def test_signatures_are_byte_identical_to_eth_account(seed: int, chain_id: int, account: int) -> None:
    rng = random.Random(seed)
    signer = FastSigner(dev_account(account), chain_id)
    for index in range(150):
        tx = _random_tx(rng, index)
        signed = signer.sign(**tx)
        assert signed.raw == _eth_account_raw(tx, chain_id, account), (seed, index)
        assert signed.tx_hash == eth_hash_keccak(signed.raw)
        assert (signed.nonce, signed.gas, signed.max_fee, signed.priority_fee) == (
            tx["nonce"], tx["gas"], tx["max_fee"], tx["priority_fee"])


def test_recipient_as_hex_or_bytes_signs_the_same() -> None:
    signer = FastSigner(dev_account(0), CHAIN_ID)
    to = bytes(range(20))
    as_bytes = signer.sign(3, 50_000, 10, 1, to, b"\x01\x02")
    assert signer.sign(3, 50_000, 10, 1, "0x" + to.hex(), b"\x01\x02") == as_bytes
    assert signer.sign(3, 50_000, 10, 1, to_checksum_address(to), bytearray(b"\x01\x02")) == as_bytes


@pytest.mark.parametrize("bad", [
    {"nonce": -1}, {"nonce": 2**64 - 1}, {"gas": 0}, {"gas": 2**64}, {"max_fee": U256},
    {"priority_fee": -1}, {"priority_fee": 11}, {"value": -1}, {"value": U256},
    {"nonce": 1.5}, {"gas": "21000"}, {"data": "0x00"}, {"data": 5},
    {"to": b"\x00" * 19}, {"to": "0xzz" + "00" * 19}, {"to": 7},
], ids=lambda bad: "-".join(f"{k}={v!r}"[:24] for k, v in bad.items()))
def test_out_of_range_or_mistyped_fields_are_refused(bad: dict) -> None:
    tx = {"nonce": 1, "gas": 21_000, "max_fee": 10, "priority_fee": 1, "to": b"\x11" * 20,
          "data": b"", "value": 0} | bad
    with pytest.raises(SignError) as info:
        FastSigner(dev_account(0), CHAIN_ID).sign(**tx)
    assert isinstance(info.value, ChainError) and info.value.kind == "sign"


@pytest.mark.parametrize("chain_id", [0, -1, 2**64, "1"])
def test_chain_id_out_of_range_is_refused(chain_id: object) -> None:
    with pytest.raises(SignError):
        FastSigner(dev_account(0), chain_id)  # type: ignore[arg-type]


def test_signer_never_shows_its_key() -> None:
    account = dev_account(4)
    signer = FastSigner(account, CHAIN_ID)
    key_hex = bytes(account.key).hex()
    for text in (repr(signer), str(signer), f"{signer}", repr(signer.sign(0, 21_000, 1, 1, b"\x00" * 20))):
        assert key_hex not in text.lower()
    assert account.address in repr(signer)
    assert not hasattr(signer, "__dict__")


def test_keccak_matches_eth_hash() -> None:
    rng = random.Random(7)
    for size in [0, 1, 31, 32, 135, 136, 137, 271, 272, *(rng.randrange(5000) for _ in range(50))]:
        payload = rng.randbytes(size)
        assert keccak256(payload) == eth_hash_keccak(payload), size


def test_rlp_edges() -> None:
    assert rlp_int(0) == b"\x80" and rlp_int(0x7F) == b"\x7f" and rlp_int(0x80) == b"\x81\x80"
    assert rlp_int(0x400) == b"\x82\x04\x00"
    assert rlp_bytes(b"") == b"\x80" and rlp_bytes(b"\x00") == b"\x00" and rlp_bytes(b"\x80") == b"\x81\x80"
    assert rlp_bytes(b"a" * 55)[:1] == b"\xb7" and rlp_bytes(b"a" * 56)[:2] == b"\xb8\x38"
    assert rlp_bytes(b"a" * 1024)[:3] == b"\xb9\x04\x00"


@pytest.mark.chain
def test_anvil_accepts_and_mines_a_fast_signed_transaction(net: Net) -> None:
    chain = net.chain
    signer = FastSigner(chain.account, chain.chain_id)
    fees = chain.fees()
    before = chain.w3.eth.get_balance(net.recipient)
    nonce = chain.next_nonce()
    signed = signer.sign(nonce, 21_000, fees.max_fee, fees.priority_fee, net.recipient, b"", 12345)
    assert chain.send_raw(signed.raw) == signed.tx_hash
    receipt = chain.wait_for_receipt(signed.tx_hash, timeout=10)
    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(net.recipient) == before + 12345
