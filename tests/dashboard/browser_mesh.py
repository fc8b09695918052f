"""The supervised dashboard of a :class:`bench._e2e_mesh.SupervisedMesh`, for the live browser
test.

:func:`supervised_mesh` makes the mesh with a free port for ``[program:dashboard]`` (through
``ALPHAPULSE_DASHBOARD_PORT``, which ``alphapulse run`` keeps when set), so several meshes on one
host never race for the default port. :func:`wait_dashboard` waits until that program serves the
page and has written its token file.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from alphapulse.ports import free_port
from bench._e2e_mesh import SupervisedMesh


def supervised_mesh() -> tuple[SupervisedMesh, str]:
    """A SupervisedMesh (not started) whose dashboard listens on a free port; and its URL."""
    mesh = SupervisedMesh()
    port = free_port()
    mesh.env["ALPHAPULSE_DASHBOARD_PORT"] = str(port)
    return mesh, f"http://127.0.0.1:{port}/"


def wait_dashboard(mesh: SupervisedMesh, url: str, timeout: float) -> None:
    """Wait until ``url`` serves the page and RUN_DIR/dashboard.token exists."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200 and (mesh.run_dir / "dashboard.token").exists():
                    return
        except (urllib.error.URLError, OSError):
            pass
        if mesh.proc is not None and mesh.proc.poll() is not None:
            raise AssertionError(f"alphapulse run exited: {mesh.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the dashboard did not serve {url} within {timeout} s: "
                                 f"{mesh.log('dashboard')}")
        time.sleep(0.5)
