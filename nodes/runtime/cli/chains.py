"""Chain B of ``alphapulse run``: a second devnet, its collector and its ring namespace.

The default deployment runs two chains: chain A is the usual devnet (program ``devnet``,
chain id 31337), chain B a second one (program ``devnet-b``, chain id 31338, the same market
deployed: the same tokens, pools and prices until they part). Chain B's collector is the
``collector-evm`` kind under the name ``collector-evm-b``, configured to follow chain B and to
write its ring into a ring namespace of its own, which only the ``crosschain`` node reads
(its ``ring_namespaces``); single-chain nodes never see chain B's pools (their addresses are
the same as chain A's).

``alphapulse run`` gives supervisord, through the environment (each kept when already set):

- ``ALPHAPULSE_DEVNET_B_DIR``: chain B's devnet directory, ``<devnet dir>-b``;
- ``ALPHAPULSE_DEVNET_B_PORT``: its anvil port, the devnet's port + 1 when free, else a free
  loopback port;
- ``ALPHAPULSE_RING_NAMESPACE_B``: chain B's ring namespace, ``<ring_namespace>-b``.
"""

from __future__ import annotations

from pathlib import Path

from alphapulse.ports import free_port
from contracts.anvil import port_is_free

#: The program holding chain B's devnet, and its chain id (supervisord.conf says it too).
DEVNET_B = "devnet-b"
CHAIN_ID_B = 31338
DIR_ENV = "ALPHAPULSE_DEVNET_B_DIR"
PORT_ENV = "ALPHAPULSE_DEVNET_B_PORT"
NAMESPACE_ENV = "ALPHAPULSE_RING_NAMESPACE_B"


def chain_b_env(devnet_dir: Path, devnet_port: int, ring_namespace: str,
                environ: dict[str, str]) -> dict[str, str]:
    """The variables supervisord.conf's chain-B programs read (see the module docstring)."""
    port = environ.get(PORT_ENV) or (
        str(devnet_port + 1) if devnet_port < 65535 and port_is_free(devnet_port + 1)
        else str(free_port()))
    return {DIR_ENV: environ.get(DIR_ENV) or f"{devnet_dir}-b", PORT_ENV: port,
            NAMESPACE_ENV: environ.get(NAMESPACE_ENV) or f"{ring_namespace}-b"}
