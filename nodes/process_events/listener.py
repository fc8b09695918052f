"""supervisord's event listener protocol, one event at a time, with every bad input typed.

The listener side of the protocol (supervisord's "Event Listener Notification Protocol")::

    listener -> supervisord   READY\\n
    supervisord -> listener   one header line of ``key:value`` tokens, ``len`` among them,
                              then exactly ``len`` bytes of payload (``key:value`` tokens again
                              for PROCESS_STATE events)
    listener -> supervisord   RESULT 2\\nOK   (or RESULT 4\\nFAIL: supervisord sends it again)

:class:`ListenerChannel` speaks it on two binary streams. Every event is acknowledged with OK
the moment it has been read, before anything is done with it, so supervisord never waits on
the mesh; an event that cannot be understood is acknowledged too (a FAIL would make supervisord
send the same bytes again forever) and surfaces as a :class:`MalformedEvent` for the caller to
count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from alphapulse.errors import AlphaPulseError
from mesh.protocol.constants import ProcessState

#: Longest header line and payload accepted (supervisord's PROCESS_STATE payloads are ~100 bytes).
MAX_HEADER = 4096
MAX_PAYLOAD = 1 << 16
_STATE_PREFIX = "PROCESS_STATE_"


class EventError(AlphaPulseError):
    """Bad input on the event listener protocol."""

    kind = "event_error"


class MalformedEvent(EventError):
    """A header or payload that does not parse (counted; the event was acknowledged)."""

    kind = "malformed_event"


class ChannelClosed(EventError):
    """supervisord closed our stdin (it stopped or died): the listener ends."""

    kind = "channel_closed"


@dataclass(frozen=True, slots=True)
class StateChange:
    """One PROCESS_STATE event: ``program`` went from ``from_state`` to ``state``."""

    serial: int
    program: str
    group: str
    state: ProcessState
    from_state: ProcessState
    pid: int
    tries: int
    expected: int


def _tokens(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition(":")
        if not sep or not key:
            raise MalformedEvent(f"{what}: token {token[:40]!r} is not key:value")
        out[key] = value
    return out


def _int(fields: dict[str, str], key: str, default: int | None = None, hi: int = 2**32 - 1) -> int:
    text = fields.get(key)
    if text is None:
        if default is None:
            raise MalformedEvent(f"no {key}")
        return default
    if not text.isdigit() or int(text) > hi:
        raise MalformedEvent(f"{key}: {text[:20]!r} is not a number up to {hi}")
    return int(text)


def _state(name: str, what: str) -> ProcessState:
    try:
        return ProcessState[name]
    except KeyError:
        raise MalformedEvent(f"{what}: unknown process state {name[:30]!r}") from None


def parse_state_change(header: dict[str, str], payload: bytes) -> StateChange | None:
    """The state change of one event, or None for an event that is not a PROCESS_STATE one.

    Raises
    ------
    MalformedEvent
        The payload is not UTF-8 ``key:value`` tokens, or a field is missing or out of range.
    """
    event = header.get("eventname", "")
    if not event.startswith(_STATE_PREFIX):
        return None
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        raise MalformedEvent("payload is not UTF-8") from None
    fields = _tokens(text, "payload")
    program = fields.get("processname", "")
    if not program or len(program.encode()) > 32:
        raise MalformedEvent(f"processname {program[:40]!r} is empty or longer than 32 bytes")
    return StateChange(
        serial=_int(header, "serial", hi=2**64 - 1), program=program,
        group=fields.get("groupname", program),
        state=_state(event[len(_STATE_PREFIX):], "eventname"),
        from_state=_state(fields.get("from_state", "UNKNOWN"), "from_state"),
        pid=_int(fields, "pid", 0), tries=_int(fields, "tries", 0, 0xFFFF),
        expected=_int(fields, "expected", 0, 1))


class ListenerChannel:
    """The listener's side of the protocol on file descriptors ``inp`` (supervisord's pipe to
    our stdin) and ``out`` (our stdout, protocol bytes only). Used by one thread.

    It reads with ``os.read`` into a buffer of its own rather than through a buffered file
    object: the reading thread is a daemon blocked in a read when the process exits, and a
    buffered stream it holds would abort the interpreter's shutdown.
    """

    def __init__(self, inp: int, out: int) -> None:
        self.inp = inp
        self.out = out
        self._buf = bytearray()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.out, view):]
        except OSError:
            raise ChannelClosed("supervisord closed our stdout") from None

    def _fill(self) -> None:
        try:
            chunk = os.read(self.inp, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            raise ChannelClosed("supervisord closed our stdin")
        self._buf += chunk

    def ready(self) -> None:
        """Tell supervisord we can take the next event."""
        self._write(b"READY\n")

    def acknowledge(self) -> None:
        """Tell supervisord the event was handled (it then sends no other copy)."""
        self._write(b"RESULT 2\nOK")

    def _line(self) -> bytes:
        while (end := self._buf.find(b"\n")) < 0:
            if len(self._buf) > MAX_HEADER:
                del self._buf[:]
                raise MalformedEvent(f"header line longer than {MAX_HEADER} bytes")
            self._fill()
        line = bytes(self._buf[:end])
        del self._buf[:end + 1]
        if len(line) > MAX_HEADER:
            raise MalformedEvent(f"header line longer than {MAX_HEADER} bytes")
        return line

    def read(self) -> tuple[dict[str, str], bytes]:
        """Block for the next event: its header tokens and its payload.

        Raises
        ------
        ChannelClosed
            End of input (also in the middle of an event).
        MalformedEvent
            A header without a usable ``len``; what was read of it is dropped and the next
            line is taken for the next header.
        """
        line = self._line()
        try:
            header = _tokens(line.decode(), "header")
        except UnicodeDecodeError:
            raise MalformedEvent("header is not UTF-8") from None
        size = _int(header, "len", hi=MAX_PAYLOAD)
        while len(self._buf) < size:
            self._fill()
        payload = bytes(self._buf[:size])
        del self._buf[:size]
        return header, payload
