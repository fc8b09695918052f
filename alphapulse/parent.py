"""A process never outlives its supervisor: it stops when its parent process dies.

Nodes (``python -m nodes.runtime``) and the other programs supervisord runs (the local
exchange) call :func:`exit_with_parent` first thing. It lives in the floor layer because it
needs nothing from the project and every layer's programs use it.

supervisord starts every node in a process group of its own, so when supervisord dies
abruptly (killed, or crashed) no terminal signal reaches the nodes, and an orphaned executor
would trade unsupervised. Two independent guards, both ending in the node's own graceful
SIGTERM handling:

1. ``PR_SET_PDEATHSIG`` (Linux ``prctl``): the kernel sends the signal the moment the parent
   exits;
2. a daemon thread that checks the parent pid every ``interval`` seconds, for kernels or
   sandboxes where ``prctl`` is unavailable; if the node has not exited ``grace`` seconds after
   the signal, the thread ends the process.

Limits: a parent that dies before :func:`exit_with_parent` runs (the first ~0.1 s of a node,
while Python imports it) leaves the node adopted by init with nothing to compare against; and
the kernel's "parent" is the thread that started the node, so a parent must start nodes from
a thread that lives as long as it does (supervisord and ``NodeHarness`` use the main thread).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
#: Exit status of a node ended by the fallback after its parent died and it did not stop.
EXIT_ORPHANED = 3


def _prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits; True if it will.

    Safe to call between ``fork`` and ``exec`` (``preexec_fn``): the setting survives ``exec``.
    """
    prctl = _prctl()
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def parent_death_signal_preexec(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``subprocess.Popen(preexec_fn=...)`` that makes the child get ``sig`` when we die.

    ``libc`` is resolved here, in the parent, so the child only makes one system call.
    """
    prctl = _prctl()

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return preexec


def exit_with_parent(sig: int = signal.SIGTERM, *, interval: float = 0.5,
                     grace: float = 15.0) -> threading.Thread:
    """Make this process receive ``sig`` when its parent dies, by both guards above.

    Parameters
    ----------
    sig : int
        Signal to receive (SIGTERM: the node's graceful stop).
    interval : float
        Seconds between checks of the parent pid by the fallback thread.
    grace : float
        Seconds the node has to exit after the signal before the thread ends the process with
        status :data:`EXIT_ORPHANED`.

    Returns
    -------
    threading.Thread
        The started fallback thread (a daemon).
    """
    parent = os.getppid()
    if not set_parent_death_signal(sig):
        log.warning("prctl(PR_SET_PDEATHSIG) unavailable; checking the parent every %s s",
                    interval)
    watcher = threading.Thread(target=_watch, args=(parent, sig, interval, grace),
                               name="parent-watch", daemon=True)
    watcher.start()
    return watcher


def _watch(parent: int, sig: int, interval: float, grace: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    log.error("parent process %d is gone: stopping", parent)
    os.kill(os.getpid(), sig)
    time.sleep(grace)
    log.error("still running %s s after the parent died: exiting", grace)
    logging.shutdown()
    os._exit(EXIT_ORPHANED)
