"""Call a compiled kernel without numba's per-call type dispatch.

A ``@njit`` dispatcher works out the numba type of every argument on every call before it picks
the compiled code; for the pool book's 25 arrays that alone is about 5 us, more than the work of
one pool update. The book and the screen always pass arrays of the same dtypes and layouts (they
own them), so :class:`Kernel` dispatches once, keeps the compiled entry point of that signature
and calls it directly afterwards (the arguments are still unboxed and checked for being arrays).
A caller whose argument types can change must call the dispatcher itself.
"""

from __future__ import annotations

from typing import Any

from numba import typeof


class Kernel:
    """``dispatcher`` bound to the argument types of its first call."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self._entry: Any = None
        self._types: tuple[Any, ...] = ()

    def __call__(self, *args: Any) -> Any:
        """Run the kernel; the first call compiles (or loads from cache) for these types."""
        if self._entry is None:
            result = self.dispatcher(*args)
            self._types = tuple(typeof(a) for a in args)
            self._entry = self.dispatcher.overloads[self._types].entry_point
            return result
        return self._entry(*args)

    def check(self, *args: Any) -> bool:
        """True when ``args`` have the types the kernel is bound to (for tests and asserts)."""
        return self._entry is None or tuple(typeof(a) for a in args) == self._types
