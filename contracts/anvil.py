"""The local chain: the anvil binary pinned in ``contracts/package.json``, run on loopback.

:func:`start_anvil` starts it and waits until it answers JSON-RPC; :func:`stop_anvil` ends it.
anvil serves HTTP and websocket JSON-RPC on the same port (``http://host:port`` and
``ws://host:port``). Talking to it is the chain client's job (:mod:`contracts.client`); the
anvil-only RPCs the tests and tools use (mining, automine, gas limit) are the small helpers at the
end of this module.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alphapulse.errors import ChainError
from alphapulse.parent import parent_death_signal_preexec
from contracts.compile import NODE_MODULES, require_npm

if TYPE_CHECKING:
    from contracts.client import Chain

ANVIL = NODE_MODULES / ".bin" / "anvil"
DEFAULT_CHAIN_ID = 31337


class PortInUse(ChainError):
    """The TCP port chosen for anvil is already taken."""

    kind = "port_in_use"


class AnvilFailed(ChainError):
    """anvil did not start or stopped answering."""

    kind = "anvil_failed"


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


def _answers_chain_id(url: str) -> int | None:
    """anvil's chain id if it answers ``eth_chainId`` at ``url`` right now, else None."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            result = json.loads(response.read())["result"]
        return int(result, 16)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def start_anvil(port: int, *, host: str = "127.0.0.1", chain_id: int = DEFAULT_CHAIN_ID,
                log_path: Path | None = None, timeout: float = 15.0, block_time: float | None = None,
                extra_args: Sequence[str] = (), die_with_parent: bool = False) -> subprocess.Popen:
    """Start anvil on ``host:port`` and wait until it answers JSON-RPC.

    Parameters
    ----------
    port, host
        Where anvil listens (HTTP and websocket on the same port).
    chain_id
        The chain id anvil reports.
    log_path
        File that receives anvil's output (appended); discarded when None.
    timeout
        Seconds to wait for the first answer.
    block_time
        Seconds between blocks (interval mining); None mines one block per transaction.
    extra_args
        More anvil command-line arguments.
    die_with_parent
        anvil gets SIGTERM from the kernel when the calling thread's process dies (a devnet
        held by a supervised program must not outlive it).

    Returns
    -------
    subprocess.Popen
        The anvil process, in its own session; stop it with :func:`stop_anvil`.

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
    argv = [str(ANVIL), "--host", host, "--port", str(port), "--chain-id", str(chain_id),
            "--hardfork", "cancun", "--accounts", "10", "--silent"]
    if block_time is not None:
        argv += ["--block-time", f"{block_time:g}"]
    argv += list(extra_args)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True,
                                preexec_fn=parent_death_signal_preexec() if die_with_parent else None)
    finally:
        if log_path:
            log.close()  # type: ignore[union-attr]
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AnvilFailed(f"anvil exited with status {proc.returncode} (port {port})")
        if _answers_chain_id(url) == chain_id:
            return proc
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


def anvil_alive(pid: int) -> bool:
    """True if ``pid`` runs an anvil process (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"anvil" in cmdline


def stop_anvil_pid(pid: int, timeout: float = 5.0) -> bool:
    """Terminate the anvil with process id ``pid`` (not our child: a devnet's), kill if it lingers.

    Returns
    -------
    bool
        True if an anvil was running under ``pid``.
    """
    if not anvil_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while anvil_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if anvil_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def mine(chain: Chain, blocks: int = 1) -> None:
    """Mine ``blocks`` blocks now (``anvil_mine``), with whatever transactions are pending."""
    chain.rpc("anvil_mine", [hex(blocks)])


def set_automine(chain: Chain, enabled: bool) -> None:
    """Mine a block per transaction (True) or only on :func:`mine` / interval (False)."""
    chain.rpc("evm_setAutomine", [enabled])


def set_block_gas_limit(chain: Chain, gas_limit: int) -> None:
    """Set the gas limit of the blocks anvil mines from now on (``evm_setBlockGasLimit``)."""
    if not chain.rpc("evm_setBlockGasLimit", [hex(gas_limit)]):
        raise AnvilFailed(f"anvil refused block gas limit {gas_limit}")
