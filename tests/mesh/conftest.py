"""Fixtures for mesh tests: a private mesh (short run dir, unique ipc endpoints), threads."""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from mesh.config import MeshConfig
from nodes.runtime.runtime import NodeRuntime
from nodes.runtime.testing import private_mesh, short_dir
from shm.kill_flag import KillFlag


@pytest.fixture
def mesh():
    """``(cfg, ctx)`` for a mesh of nodes a, b, c and risk in a fresh /tmp directory."""
    with short_dir() as d:
        _, cfg = private_mesh(d, ["a", "b", "c", "risk"])
        ctx = zmq.Context()
        try:
            yield cfg, ctx
        finally:
            ctx.destroy(linger=0)
            flag = KillFlag(cfg.kill_flag_name)  # the risk node opens the host's flag
            flag.unlink()
            flag.close()


class RuntimeThread:
    """Run a node runtime in a thread of this process (no signals); stop it on exit."""

    def __init__(self, node_cls: type, cfg: MeshConfig, name: str | None = None) -> None:
        self.rt = NodeRuntime(node_cls, cfg, name)
        self.thread = threading.Thread(target=self.rt.run, kwargs={"install_signals": False},
                                       daemon=True)

    def __enter__(self) -> NodeRuntime:
        self.thread.start()
        deadline = time.monotonic() + 10
        while getattr(self.rt, "state", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.rt

    def stop(self) -> None:
        self.rt.request_stop()
        self.thread.join(10)
        assert not self.thread.is_alive(), "runtime thread did not stop"

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()


@pytest.fixture
def runtime_thread():
    """Factory: ``with runtime_thread(NodeCls, cfg) as rt: ...``."""
    return RuntimeThread
