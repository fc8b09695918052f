"""Ctrl-C while the command line is still loading: remembered, then honoured, never mid-import.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT
arrives. During the first second of a command that is inside imports of numba, llvmlite,
numpy or web3, and an exception there prints a traceback, can be swallowed by a ``__del__``
("Exception ignored"), or leaves a half-initialised extension that crashes the interpreter at
exit. So the command line loads with :class:`DeferredInterrupts` in place: SIGINT is blocked
while loading and delivered once loading is over.
"""

from __future__ import annotations

import signal
from types import TracebackType


class DeferredInterrupts:
    """A context in which SIGINT is held back (blocked), and delivered on leaving it.

    A Ctrl-C inside the context stays pending; leaving the context unblocks it and Python
    raises ``KeyboardInterrupt`` there, between two statements of the caller. Only the main
    thread receives Python's signals, so elsewhere the context changes nothing.

    Examples
    --------
    >>> with DeferredInterrupts():
    ...     import json  # a Ctrl-C here raises KeyboardInterrupt after the import, not inside
    """

    def __init__(self) -> None:
        self._blocked = False

    def __enter__(self) -> DeferredInterrupts:
        import threading  # here, not above: the entry point imports this module before main()

        if threading.current_thread() is threading.main_thread():
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            self._blocked = signal.SIGINT not in previous
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._blocked:
            self._blocked = False
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
