"""Keccak-256 for the signing path, with less per-call overhead than ``eth_utils.keccak``.

eth-hash hashes with pycryptodome here, whose Python wrapper (ctypes, no cffi) spends about
9 us a call building a hash object. :func:`keccak256` calls the same compiled pycryptodome
functions directly through ctypes on one reused state (about 4 us for a short input). The
direct path is checked against eth-hash on known inputs when this module loads; if the
library cannot be loaded that way or answers differently, :func:`keccak256` is eth-hash's own
function. :data:`BACKEND` names the one in use.

Thread-safety: the reused state is guarded by a lock.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from pathlib import Path

from eth_hash.auto import keccak as _eth_hash_keccak

#: Inputs whose digests the direct path must reproduce before it is used (empty, short, and
#: longer than one 136-byte rate block).
_CHECKS = (b"", b"\x02", bytes(range(256)) * 3)


def _direct() -> Callable[[bytes], bytes] | None:
    """keccak-256 through pycryptodome's compiled ``_keccak`` library, or None if unavailable."""
    try:
        import Crypto.Hash  # optional: eth-hash may hash with another backend

        library = next(Path(Crypto.Hash.__file__).parent.glob("_keccak*.so"))
        lib = ctypes.CDLL(str(library))
        void_p = ctypes.c_void_p
        lib.keccak_init.argtypes = [ctypes.POINTER(void_p), ctypes.c_size_t, ctypes.c_uint8]
        lib.keccak_absorb.argtypes = [void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.keccak_digest.argtypes = [void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint8]
        lib.keccak_reset.argtypes = [void_p]
        state = void_p()
        if lib.keccak_init(ctypes.byref(state), 64, 24):  # capacity 512 bits, 24 rounds
            return None
    except (ImportError, StopIteration, OSError, AttributeError):
        return None
    absorb, digest, reset = lib.keccak_absorb, lib.keccak_digest, lib.keccak_reset
    out = ctypes.create_string_buffer(32)
    lock = threading.Lock()

    def keccak(payload: bytes) -> bytes:
        with lock:
            absorb(state, payload, len(payload))
            digest(state, out, 32, 0x01)  # 0x01: Keccak padding (SHA-3 would be 0x06)
            value = out.raw
            reset(state)
        return value

    if all(keccak(check) == _eth_hash_keccak(check) for check in _CHECKS):
        return keccak
    return None


_fast = _direct()

#: keccak-256 of bytes.
keccak256: Callable[[bytes], bytes] = _fast if _fast is not None else _eth_hash_keccak

#: Which implementation :func:`keccak256` is: ``"pycryptodome-direct"`` or ``"eth-hash"``.
BACKEND = "pycryptodome-direct" if _fast is not None else "eth-hash"
