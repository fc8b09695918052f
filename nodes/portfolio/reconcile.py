"""Reconciliation: the books' balances of FlashArbitrage and the profit recipient against the
chain's ``balanceOf``.

For every token it books (the configured profit tokens and every token a result names) and
each holder (the contract and the profit recipient; one holder when the recipient is the
contract), the node reads a *baseline* balance at some block ``B0`` the first time it checks
that pair. At each later check block ``B`` (``reconcile_lag_blocks`` behind the head, so the
results of block ``B`` have had time to arrive) the books say::

    booked = baseline + chain profit of included results in blocks B0+1 .. B   (recipient)
    booked = baseline                                                          (contract)

The contract keeps nothing between trades (it pays the recipient at once), and gas is paid in
ETH by the executor's account, so no other term belongs there. A difference
``chain - booked`` that is the same on ``reconcile_checks`` conclusive checks in a row (default
2) is a mismatch: the node raises a RiskAlert. A check is inconclusive (counted, not
alerted on) while a submission younger than ``pending_grace_s`` has no final result yet: its
profit may be on chain before its result reaches the books.

:class:`Reconciler` is the logic (no I/O); :func:`probe` is the blocking chain read that the
node runs through ``rt.offload``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from alphapulse.errors import ChainError, ConfigError
from contracts.answers import BadRpcAnswer, data
from nodes.portfolio.books import Books

if TYPE_CHECKING:  # web3 is imported off the loop thread, when reconciliation starts
    from contracts.client import Chain

#: ``balanceOf(address)``.
BALANCE_OF = bytes.fromhex("70a08231")

Pair = tuple[str, str]  # (token, holder address), both lower case


@dataclass(frozen=True, slots=True)
class Target:
    """What to reconcile: the chain, the two holders, the tokens and their symbols.

    ``check_recipient`` is False when the recipient is the devnet's deployer by default: that
    account also deploys, mints and trades for the simulator, so its token balances move
    without the books; only FlashArbitrage is reconciled then.
    """

    rpc_url: str
    arbitrage: str
    recipient: str
    tokens: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    check_recipient: bool = True


def _address(value: str, what: str) -> str:
    try:
        return to_checksum_address(value).lower()
    except (ValueError, TypeError):
        raise ConfigError(f"{what} {value!r} is not an address") from None


def resolve_target(settings: Mapping[str, Any], default_manifest: str) -> Target:
    """The reconciliation target from the node's settings, the manifest filling what they leave
    empty (``manifest``, else ``default_manifest`` when some setting is missing).

    Raises
    ------
    ConfigError
        No manifest where one is needed, a token that is neither a manifest symbol nor an
        address, or no RPC URL, FlashArbitrage or recipient anywhere.
    """
    from contracts.devnet import load_manifest

    manifest: Mapping[str, Any] = {}
    needs = not (settings["rpc_url"] and settings["flash_arbitrage"] and settings["recipient"])
    symbols = [t.strip() for t in str(settings["profit_tokens"]).split(",") if t.strip()]
    if needs or settings["manifest"] or any(not s.startswith("0x") for s in symbols):
        try:
            manifest = load_manifest(settings["manifest"] or default_manifest)
        except ChainError as exc:
            raise ConfigError(str(exc)) from exc
    known = {str(v.get("address", "")).lower(): k for k, v in manifest.get("tokens", {}).items()}
    tokens = []
    for s in symbols:
        if s in manifest.get("tokens", {}):
            tokens.append(str(manifest["tokens"][s]["address"]).lower())
        else:
            tokens.append(_address(s, "profit token"))
    rpc = settings["rpc_url"] or str(manifest.get("rpc_url", ""))
    arb = settings["flash_arbitrage"] or str(manifest.get("flash_arbitrage", ""))
    named = settings["recipient"] or str(manifest.get("recipient", ""))
    recipient = named or str(manifest.get("deployer", ""))
    if not (rpc and arb and recipient):
        raise ConfigError("reconciliation needs rpc_url, flash_arbitrage and recipient "
                          "(settings or the devnet manifest)")
    return Target(rpc, _address(arb, "flash_arbitrage"), _address(recipient, "recipient"),
                  tuple(dict.fromkeys(tokens)), known, check_recipient=bool(named))


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A difference between the chain and the books that persisted."""

    token: str
    holder: str
    role: str
    block: int
    chain: int
    booked: int

    @property
    def difference(self) -> int:
        """``chain - booked``, raw units (positive: the chain holds more than the books say)."""
        return self.chain - self.booked


class Reconciler:
    """The comparison logic (see the module docstring).

    Parameters
    ----------
    arbitrage, recipient : str
        Lower-case addresses.
    lag : int
        Blocks behind the head a check reads.
    checks : int
        Conclusive checks in a row with the same difference that make a mismatch.
    check_recipient : bool
        Reconcile the recipient too (when it is not the contract).
    """

    def __init__(self, arbitrage: str, recipient: str, lag: int, checks: int,
                 check_recipient: bool = True) -> None:
        self.arbitrage = arbitrage
        self.recipient = recipient
        self.lag = max(0, lag)
        self.checks = max(1, checks)
        self.roles = {arbitrage: "contract"}
        if check_recipient and recipient != arbitrage:
            self.roles[recipient] = "recipient"
        self.baselines: dict[Pair, tuple[int, int]] = {}
        self.differences: dict[Pair, int] = {}
        self._streak: dict[Pair, tuple[int, int]] = {}  # pair -> (difference, checks in a row)
        self._alerted: dict[Pair, int] = {}  # pair -> difference alerted on
        self.last_block = -1
        self.checked = 0
        self.inconclusive = 0

    def pairs(self, tokens: Sequence[str]) -> list[Pair]:
        """Every (token, holder) pair to read for ``tokens``."""
        return [(t, h) for t in dict.fromkeys(tokens) for h in self.roles]

    def target_block(self, head: int) -> int | None:
        """The block to check at head ``head``, or None when it was checked already."""
        block = head - self.lag
        return block if block > self.last_block and block >= 0 else None

    def booked(self, pair: Pair, block: int, books: Books) -> int:
        """What the books say ``pair``'s holder holds at ``block`` (its baseline known)."""
        since, amount = self.baselines[pair]
        token, holder = pair
        return amount + (books.paid(token, since, block) if holder == self.recipient else 0)

    def observe(self, block: int, balances: Mapping[Pair, int], books: Books,
                conclusive: bool = True) -> list[Mismatch]:
        """Compare the chain's ``balances`` at ``block`` with the books; return new mismatches.

        A pair seen for the first time takes its balance as its baseline.
        """
        if block <= self.last_block:
            return []
        self.last_block = block
        self.checked += 1
        self.inconclusive += not conclusive
        found = []
        for pair, chain in balances.items():
            if pair not in self.baselines:
                self.baselines[pair] = (block, chain)
                self.differences[pair] = 0
                continue
            booked = self.booked(pair, block, books)
            diff = self.differences[pair] = chain - booked
            if diff == 0:
                self._streak.pop(pair, None)
                self._alerted.pop(pair, None)
                continue
            if not conclusive:
                continue
            last, n = self._streak.get(pair, (0, 0))
            n = n + 1 if last == diff else 1
            self._streak[pair] = (diff, n)
            if n >= self.checks and self._alerted.get(pair) != diff:
                self._alerted[pair] = diff
                found.append(Mismatch(pair[0], pair[1], self.roles[pair[1]], block, chain, booked))
        return found


def _balance_call(token: str, holder: str, block: int) -> tuple[str, list[Any]]:
    payload = BALANCE_OF + bytes(12) + bytes.fromhex(holder[2:])
    return "eth_call", [{"to": token, "data": "0x" + payload.hex()}, hex(block)]


def probe(chain: Chain, reconciler_lag: int, last_block: int, pairs: Sequence[Pair]
          ) -> tuple[int, dict[Pair, int]] | None:
    """Blocking: the head, then every pair's balance at ``head - lag`` in one batch; None when
    that block is not past ``last_block``.

    Raises
    ------
    ChainError
        No answer, or an answer that is not a 32-byte balance.
    """
    block = chain.block_number() - reconciler_lag
    if block <= last_block or block < 0:
        return None
    if not pairs:
        return block, {}
    answers = chain.rpc_batch([_balance_call(t, h, block) for t, h in pairs])
    balances = {}
    for pair, answer in zip(pairs, answers, strict=True):
        raw = data(answer, f"balanceOf({pair[1]}) of {pair[0]}")
        if len(raw) != 32:
            raise BadRpcAnswer(f"balanceOf of {pair[0]} answered {len(raw)} bytes, not 32")
        balances[pair] = int.from_bytes(raw, "big")
    return block, balances
