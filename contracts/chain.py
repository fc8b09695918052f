"""A local anvil process and a small signing client for it (web3 8 + eth-account).

:func:`start_anvil` runs the anvil binary pinned in ``contracts/package.json`` on loopback;
:class:`Chain` signs transactions locally with an eth-account key, sends them, waits for the
receipt and turns reverts into :class:`Reverted` carrying the decoded custom error.

Keys: the devnet uses anvil's well-known development mnemonic (public, worthless outside a local
chain). Any other key comes from the environment (``ALPHAPULSE_PRIVATE_KEY``) and is never logged.
Thread-safety: a :class:`Chain` keeps a local nonce; use one per thread.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from alphapulse.errors import ChainError
from contracts.compile import NODE_MODULES, require_npm

#: anvil's default development mnemonic (public knowledge; devnet only).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL = NODE_MODULES / ".bin" / "anvil"
DEFAULT_CHAIN_ID = 31337


class PortInUse(ChainError):
    """The TCP port chosen for anvil is already taken."""


class AnvilFailed(ChainError):
    """anvil did not start or stopped answering."""


class Reverted(ChainError):
    """A call or transaction reverted; ``error`` is the decoded custom error name when known."""

    def __init__(self, message: str, error: str | None = None, args: tuple = (), data: str = ""):
        super().__init__(message)
        self.error = error
        self.error_args = args
        self.data = data


def dev_account(index: int = 0) -> LocalAccount:
    """Development account ``index`` of :data:`DEV_MNEMONIC` (anvil funds the first ten)."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def env_account(variable: str = "ALPHAPULSE_PRIVATE_KEY") -> LocalAccount:
    """The account whose private key is in environment variable ``variable``."""
    key = os.environ.get(variable)
    if not key:
        raise ChainError(f"environment variable {variable} is not set")
    try:
        return Account.from_key(key)
    except (ValueError, TypeError):
        raise ChainError(f"environment variable {variable} does not hold a private key") from None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers set it: a port in TIME_WAIT is free, a listening port is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start_anvil(port: int, *, host: str = "127.0.0.1", chain_id: int = DEFAULT_CHAIN_ID,
                log_path: Path | None = None, timeout: float = 15.0) -> subprocess.Popen:
    """Start anvil on ``host:port`` and wait until it answers JSON-RPC.

    Raises
    ------
    NpmMissing
        anvil is not installed in contracts/node_modules.
    PortInUse
        the port is taken.
    AnvilFailed
        anvil exited or did not answer within ``timeout`` seconds.
    """
    require_npm("@foundry-rs/anvil-linux-amd64")
    if not ANVIL.exists():
        require_npm("@foundry-rs/anvil")  # raises with the install hint
    if not port_is_free(port, host):
        raise PortInUse(f"port {port} on {host} is already in use; choose another with --port")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [str(ANVIL), "--host", host, "--port", str(port), "--chain-id", str(chain_id),
         "--hardfork", "cancun", "--accounts", "10", "--silent"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    if log_path:
        log.close()  # type: ignore[union-attr]
    w3 = Web3(Web3.HTTPProvider(f"http://{host}:{port}", request_kwargs={"timeout": 2}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AnvilFailed(f"anvil exited with status {proc.returncode} (port {port})")
        try:
            if w3.eth.chain_id == chain_id:
                return proc
        except (OSError, Web3Exception):
            time.sleep(0.05)
    stop_anvil(proc)
    raise AnvilFailed(f"anvil did not answer on {host}:{port} within {timeout:.0f} s")


def stop_anvil(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Terminate an anvil started by :func:`start_anvil` (kill if it lingers)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


class ErrorDecoder:
    """Maps 4-byte custom-error selectors to names and argument types, from ABIs."""

    def __init__(self, abis: Iterable[list[dict]] = ()):
        self.errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            self.add(abi)

    def add(self, abi: list[dict]) -> None:
        """Learn every ``error`` entry of ``abi``."""
        for item in abi:
            if item.get("type") == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self.errors[selector] = (item["name"], types)

    def decode(self, data: str) -> tuple[str | None, tuple]:
        """(name, args) of revert ``data`` (hex); ``Error``/``Panic`` included; (None, ()) if unknown."""
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        table = {keccak(text="Error(string)")[:4]: ("Error", ["string"]),
                 keccak(text="Panic(uint256)")[:4]: ("Panic", ["uint256"]), **self.errors}
        if len(raw) >= 4 and raw[:4] in table:
            name, types = table[raw[:4]]
            try:
                values = abi_decode(types, raw[4:])
                return name, tuple(to_checksum_address(v) if t == "address" else v
                                   for t, v in zip(types, values, strict=True))
            except Exception:  # noqa: BLE001 - malformed revert data is still a revert
                return name, ()
        return None, ()


class Chain:
    """A web3 connection plus one local signing account."""

    def __init__(self, url: str, account: LocalAccount | None = None, decoder: ErrorDecoder | None = None):
        self.url = url
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        self.account = account or dev_account(0)
        self.decoder = decoder or ErrorDecoder()
        self._nonce: int | None = None
        try:
            self.chain_id = self.w3.eth.chain_id
        except (OSError, Web3Exception) as exc:
            raise AnvilFailed(f"no JSON-RPC node answers at {url}") from exc

    @property
    def address(self) -> ChecksumAddress:
        """Checksummed address of the signing account."""
        return self.account.address

    def rpc(self, method: str, params: list | None = None) -> Any:
        """A raw JSON-RPC request (``evm_snapshot``, ``anvil_setBalance``...); returns ``result``."""
        response = self.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}")
        return response["result"]

    def snapshot(self) -> str:
        """Take an anvil snapshot; returns its id for :meth:`revert_to`."""
        return self.rpc("evm_snapshot")

    def revert_to(self, snapshot_id: str) -> None:
        """Restore a snapshot (it is consumed) and forget the cached nonce."""
        if not self.rpc("evm_revert", [snapshot_id]):
            raise ChainError(f"snapshot {snapshot_id} could not be restored")
        self._nonce = None

    def _reverted(self, exc: ContractLogicError, what: str) -> Reverted:
        data = exc.data if isinstance(exc.data, str) else ""
        name, args = self.decoder.decode(data) if data else (None, ())
        label = f"{name}{args}" if name else (exc.message or "revert")
        return Reverted(f"{what} reverted: {label}", name, args, data)

    def call(self, to: str, data: bytes | str, sender: str | None = None) -> bytes:
        """``eth_call``; raises :class:`Reverted` with the decoded error."""
        tx = {"to": to, "data": data, "from": sender or self.address}
        try:
            return bytes(self.w3.eth.call(tx))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise self._reverted(exc, f"call to {to}") from None

    def send(self, to: str | None, data: bytes | str = b"", *, gas: int | None = None,
             value: int = 0, check: bool = True) -> dict:
        """Sign and send a transaction; wait for and return its receipt.

        Without ``gas`` the gas is estimated (a revert raises :class:`Reverted` before sending).
        With ``check`` a mined transaction whose status is 0 also raises :class:`Reverted`.
        """
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        tx: dict[str, Any] = {"from": self.address, "data": data, "value": value, "nonce": self._nonce,
                              "chainId": self.chain_id, "maxFeePerGas": 10**11,
                              "maxPriorityFeePerGas": 10**9, "type": 2}
        if to is not None:
            tx["to"] = to
        if gas is None:
            try:
                gas = int(self.w3.eth.estimate_gas(tx) * 12 // 10) + 20_000  # type: ignore[arg-type]
            except ContractLogicError as exc:
                raise self._reverted(exc, f"transaction to {to or 'new contract'}") from None
        tx["gas"] = gas
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._nonce += 1
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01))
        if check and receipt["status"] != 1:
            raise Reverted(f"transaction {tx_hash.hex()} to {to} reverted (status 0)")
        return receipt

    def deploy(self, abi: list[dict], bytecode: str, *args: Any) -> str:
        """Deploy a contract; returns its checksummed address."""
        ctor: dict[str, Any] = next((i for i in abi if i["type"] == "constructor"), {"inputs": []})
        code = bytes.fromhex(bytecode[2:] if bytecode.startswith("0x") else bytecode)
        if "__" in bytecode:
            raise ChainError("bytecode has unlinked library placeholders")
        data = code + abi_encode([_abi_type(i) for i in ctor["inputs"]], list(args))
        receipt = self.send(None, data)
        return to_checksum_address(receipt["contractAddress"])

    def contract(self, address: str, abi: list[dict]) -> Any:
        """A web3 contract object bound to this connection."""
        self.decoder.add(abi)
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    def transact(self, contract: Any, fn: str, *args: Any, gas: int | None = None,
                 check: bool = True) -> dict:
        """Send ``contract.fn(*args)`` as a transaction; returns the receipt."""
        data = contract.encode_abi(fn, args=list(args))
        return self.send(contract.address, data, gas=gas, check=check)


def _abi_type(item: dict) -> str:
    """The canonical ABI type string of one input (tuples expanded)."""
    kind = item["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + kind[5:]
    return kind
