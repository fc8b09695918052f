"""Descriptor of the kill-flag segment: offsets, sizes, nothing else.

One 64-byte line of little-endian int64 words (word index ``W_*`` = byte offset // 8)::

     byte 0  +----------------+----------------+----------------+----------------+
             | MAGIC          | LAYOUT_VERSION | STOP_ID        | FLAG (0 or 1)  |
        32   +----------------+----------------+----------------+----------------+
             | reserved (zero)                                                   |
        64   +-------------------------------------------------------------------+

``STOP_ID`` names the stop that last set the flag; ``FLAG`` is what hot loops load. Every
store another process reads is a release store and every load of them an acquire load
(:mod:`shm.kill_flag` spells out the order).
"""

from __future__ import annotations

from typing import Final

MAGIC: Final = int.from_bytes(b"APKILL\x00\x01", "little")
LAYOUT_VERSION: Final = 1

MAGIC_OFF: Final = 0
VERSION_OFF: Final = MAGIC_OFF + 8
STOP_ID_OFF: Final = VERSION_OFF + 8
FLAG_OFF: Final = STOP_ID_OFF + 8
SIZE: Final = 64

W_MAGIC: Final = MAGIC_OFF // 8
W_VERSION: Final = VERSION_OFF // 8
W_STOP_ID: Final = STOP_ID_OFF // 8
W_FLAG: Final = FLAG_OFF // 8

assert FLAG_OFF + 8 <= SIZE
