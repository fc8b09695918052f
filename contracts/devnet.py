"""Bring the devnet up and down: anvil on loopback, the market deployed, a JSON manifest written.

Files live in the run directory (default ``<repo>/run/devnet``, or ``$ALPHAPULSE_DEVNET_DIR``):
``anvil.pid``, ``anvil.log`` and ``manifest.json`` (its path can be chosen separately).

``up`` is idempotent: when the manifest's anvil is alive and still has FlashArbitrage deployed,
it returns that manifest and deploys nothing. A stale manifest (anvil gone) is replaced.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphapulse.errors import ChainError
from contracts.accounts import dev_account
from contracts.anvil import DEFAULT_CHAIN_ID, anvil_alive, start_anvil, stop_anvil, stop_anvil_pid
from contracts.arbitrage import arbitrage_contract
from contracts.client import Chain
from contracts.compile import require_npm
from contracts.deploy import deploy_market

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8545
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: npm packages the devnet needs (contracts/package.json).
NPM_PACKAGES = ("@foundry-rs/anvil-linux-amd64", "@uniswap/v2-core", "@uniswap/v3-core", "@aave/core-v3")


class DevnetError(ChainError):
    """The devnet cannot be brought up, found or stopped."""


@dataclass(slots=True, frozen=True)
class DevnetPaths:
    """Where one devnet keeps its pid file, log and manifest."""

    run_dir: Path
    manifest: Path

    @classmethod
    def of(cls, run_dir: str | Path | None = None, manifest: str | Path | None = None) -> DevnetPaths:
        """Paths from options, falling back to ``$ALPHAPULSE_DEVNET_DIR`` then ``run/devnet``."""
        base = Path(run_dir or os.environ.get("ALPHAPULSE_DEVNET_DIR") or REPO / "run" / "devnet")
        return cls(base, Path(manifest) if manifest else base / "manifest.json")

    @property
    def pid_file(self) -> Path:
        """File holding anvil's process id."""
        return self.run_dir / "anvil.pid"

    @property
    def log_file(self) -> Path:
        """anvil's output."""
        return self.run_dir / "anvil.log"


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read a manifest written by :func:`up`."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DevnetError(f"no devnet manifest at {path}; run `alphapulse devnet up`") from None
    except json.JSONDecodeError as exc:
        raise DevnetError(f"devnet manifest {path} is not JSON: {exc}") from None


def status(paths: DevnetPaths) -> dict[str, Any] | None:
    """The live devnet's manifest, or None when none is running (or it lost its contracts)."""
    if not paths.manifest.is_file() or not paths.pid_file.is_file():
        return None
    try:
        manifest = load_manifest(paths.manifest)
        pid = int(paths.pid_file.read_text().strip())
    except (DevnetError, ValueError):
        return None
    if not anvil_alive(pid) or manifest.get("anvil", {}).get("pid") != pid:
        return None
    try:
        chain = Chain(manifest["rpc_url"])
        code = chain.rpc("eth_getCode", [manifest["flash_arbitrage"], "latest"])
    except (ChainError, KeyError):
        return None
    return manifest if chain.chain_id == manifest["chain_id"] and code not in ("0x", "", None) else None


def up(paths: DevnetPaths, port: int = DEFAULT_PORT, host: str = "127.0.0.1", *,
       die_with_parent: bool = False, chain_id: int = DEFAULT_CHAIN_ID,
       block_time: int = 0) -> tuple[dict[str, Any], bool]:
    """Start anvil and deploy, unless already up; returns (manifest, created).

    ``die_with_parent``: a started anvil ends when this process does (``devnet serve``).
    ``chain_id``: the chain id anvil reports (a second devnet beside the first takes another
    one, its own run directory and port; the deployment, and so every address and price, is
    the same). ``block_time``: once deployed (or found up), mine a block every that many
    seconds, transactions or not (a chain nobody trades on still makes blocks; 0: a block per
    transaction, anvil's automine).

    Raises
    ------
    PortInUse, NpmMissing, AnvilFailed, DevnetError
        With a message saying what to do; DevnetError also when the devnet of ``paths`` is
        up with another chain id.
    """
    if host not in LOOPBACK:
        raise DevnetError(f"the devnet listens on loopback only, not {host}")
    require_npm(*NPM_PACKAGES)
    live = status(paths)
    if live is not None:
        if live["chain_id"] != chain_id:
            raise DevnetError(f"the devnet in {paths.run_dir} is up with chain id "
                              f"{live['chain_id']}, not {chain_id}; bring it down first "
                              f"(alphapulse devnet down --run-dir {paths.run_dir})")
        if block_time:
            Chain(live["rpc_url"]).rpc("evm_setIntervalMining", [block_time])
        return live, False
    down(paths)  # clear a stale run
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    proc = start_anvil(port, host=host, chain_id=chain_id, log_path=paths.log_file,
                       die_with_parent=die_with_parent)
    paths.pid_file.write_text(f"{proc.pid}\n")
    try:
        chain = Chain(f"http://{host}:{port}")
        manifest = deploy_market(chain)
        hand_over(chain, manifest)
        if block_time:
            chain.rpc("evm_setIntervalMining", [block_time])
    except BaseException:
        stop_anvil(proc)
        paths.pid_file.unlink(missing_ok=True)
        raise
    manifest["anvil"] = {"pid": proc.pid, "host": host, "port": port}
    paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.replace(paths.manifest)
    return manifest, True


#: anvil development accounts of the devnet's roles: the deployer (index 0) mints and trades for
#: the simulator; the executor owns FlashArbitrage; the recipient only ever receives profits.
EXECUTOR_ACCOUNT = 9
RECIPIENT_ACCOUNT = 8


def hand_over(chain: Chain, manifest: dict[str, Any], executor: int = EXECUTOR_ACCOUNT,
              recipient: int = RECIPIENT_ACCOUNT) -> None:
    """Give FlashArbitrage to development account ``executor`` (so the executor's nonces never
    race the deployer's, which the simulator uses) and name account ``recipient`` the profit
    recipient; both go into the manifest (``executor``, ``recipient``)."""
    owner = Chain(chain.url, dev_account(executor), decoder=chain.decoder)
    arb = arbitrage_contract(chain, manifest["flash_arbitrage"])
    chain.transact(arb, "transferOwnership", owner.address)
    owner.transact(arbitrage_contract(owner, manifest["flash_arbitrage"]), "acceptOwnership")
    manifest["executor"] = owner.address
    manifest["recipient"] = dev_account(recipient).address


def wait_up(paths: DevnetPaths, timeout: float, poll: float = 0.5) -> dict[str, Any]:
    """The live devnet's manifest, waiting up to ``timeout`` seconds for one to come up.

    Raises
    ------
    DevnetError
        None came up in time.
    """
    deadline = time.monotonic() + timeout
    while (manifest := status(paths)) is None:
        if time.monotonic() >= deadline:
            raise DevnetError(f"no devnet came up at {paths.manifest} within {timeout:g} s")
        time.sleep(poll)
    return manifest


def profit_recipient(manifest: Mapping[str, Any]) -> str:
    """Where profits go by default: the manifest's ``recipient``, else its deployer."""
    return str(manifest.get("recipient") or manifest["deployer"])


def down(paths: DevnetPaths, timeout: float = 5.0) -> bool:
    """Stop the devnet's anvil and remove its pid file and manifest; True if one was running."""
    stopped = False
    if paths.pid_file.is_file():
        try:
            pid = int(paths.pid_file.read_text().strip())
        except ValueError:
            pid = 0
        stopped = bool(pid) and stop_anvil_pid(pid, timeout)
        paths.pid_file.unlink(missing_ok=True)
    paths.manifest.unlink(missing_ok=True)
    return stopped


def find_pool(manifest: dict[str, Any], venue: str, pair: str, fee: int | None = None) -> dict[str, Any]:
    """The manifest entry of a pool: ``venue`` is ``uniswap_v2``, ``uniswap_v2_fork`` or
    ``uniswap_v3``; ``pair`` is as deployed (``"WETH/USDC"``); ``fee`` picks a V3 fee tier."""
    section = manifest[venue]
    for pool in section.get("pairs", section.get("pools", [])):
        if pool["pair"] == pair and (fee is None or pool.get("fee") == fee):
            return pool
    raise DevnetError(f"no {venue} pool {pair} (fee {fee}) in the manifest")
