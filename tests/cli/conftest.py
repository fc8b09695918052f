"""A private mesh for command-line tests: run dir, config, ring namespace, metrics ports."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import posix_ipc
import pytest

from nodes.runtime.testing import free_port, short_dir
from shm.segment import list_ring_names, unlink


@dataclass
class CliEnv:
    """Where one test's commands may write, and the environment that points them there."""

    root: Path
    run_dir: Path
    config: Path
    namespace: str
    env: dict[str, str]


@pytest.fixture
def cli_env(unique_name: str) -> Iterator[CliEnv]:
    """A config with one declared node (risk) in a fresh short run dir; the kill flag and every
    ring of the namespace unlinked after (a node killed with its supervisor cannot unlink its own)."""
    with short_dir() as root:
        run_dir = root / "run"
        run_dir.mkdir()
        namespace = unique_name
        config = root / "mesh.toml"
        config.write_text(f'[mesh]\nrun_dir = "{run_dir}"\ndefault_nodes = false\n'
                          f'ring_namespace = "{namespace}"\n[nodes.risk]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
        env.update(ALPHAPULSE_CONFIG=str(config), ALPHAPULSE_RUN_DIR=str(run_dir),
                   ALPHAPULSE_METRICS_BASE_PORT=str(free_port()),
                   ALPHAPULSE_RING_NAMESPACE=namespace,
                   ALPHAPULSE_DEVNET_DIR=str(root / "devnet"))
        try:
            yield CliEnv(root, run_dir, config, namespace, env)
        finally:
            with contextlib.suppress(posix_ipc.ExistentialError):
                posix_ipc.unlink_shared_memory(f"/{namespace}-kill")
            for ring in list_ring_names(namespace):
                unlink(ring)
