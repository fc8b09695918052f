"""Replay scripts: JSON Lines of steps the server runs in order from its start.

One step per line (blank lines and lines starting with ``#`` are skipped)::

    {"wait_clients": {"venue": "binance", "count": 1}}
    {"send": {"venue": "binance", "json": {"stream": "ethusdt@trade", "data": {...}}}}
    {"send": {"venue": "coinbase", "text": "{not json"}}
    {"rest": {"path": "/api/v3/depth", "symbol": "ETHUSDT", "json": {...}}}
    {"wait_rest": {"path": "/api/v3/depth", "count": 2}}
    {"disconnect": {"venue": "binance", "abrupt": false}}
    {"sleep_ms": 20}

A ``rest`` step may also give ``"status"`` (HTTP status, default 200) and ``"headers"`` (an
object of header strings, e.g. ``Retry-After``). Everything is checked when the script is
loaded: an unknown step kind or a bad field is a :class:`ScriptError` naming the line.
See docs/local-exchange.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cex.exchange.errors import ScriptError

#: Step kinds, as the key of a line's object.
KINDS = ("wait_clients", "send", "rest", "wait_rest", "disconnect", "sleep_ms")
#: Venues a script step can name.
VENUES = ("binance", "coinbase")


@dataclass(frozen=True, slots=True)
class WaitClients:
    """Wait until ``count`` clients of ``venue`` are connected (Coinbase: and subscribed)."""

    venue: str
    count: int


@dataclass(frozen=True, slots=True)
class Send:
    """Send a JSON value (``json``) or raw text (``text``) to the venue's matching clients."""

    venue: str
    json: Any = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Rest:
    """Queue the answer to the next GET of ``path`` for ``symbol``."""

    path: str
    symbol: str | None
    json: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WaitRest:
    """Wait until ``count`` requests of ``path`` were answered since the start."""

    path: str
    count: int


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close every client of ``venue`` (``abrupt``: drop TCP without a close frame)."""

    venue: str
    abrupt: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause the script for ``ms`` milliseconds."""

    ms: int


Step = WaitClients | Send | Rest | WaitRest | Disconnect | Sleep


def _venue(body: Mapping[str, Any], where: str) -> str:
    venue = body.get("venue")
    if venue not in VENUES:
        raise ScriptError(f"{where}: venue must be one of {', '.join(VENUES)}, not {venue!r}")
    return str(venue)


def _count(body: Mapping[str, Any], where: str) -> int:
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ScriptError(f"{where}: count must be a whole number >= 0, not {count!r}")
    return count


def _path(body: Mapping[str, Any], where: str) -> str:
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise ScriptError(f"{where}: path must be a string starting with '/', not {path!r}")
    return path


def _body(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: the step's value must be an object")
    return value


def _send(body: Mapping[str, Any], where: str) -> Send:
    venue = _venue(body, where)
    has_json, has_text = "json" in body, "text" in body
    if has_json == has_text:
        raise ScriptError(f"{where}: send needs exactly one of 'json' and 'text'")
    if has_text and not isinstance(body["text"], str):
        raise ScriptError(f"{where}: send's text must be a string")
    return Send(venue, json=body.get("json"), text=body.get("text"))


def _rest(body: Mapping[str, Any], where: str) -> Rest:
    symbol = body.get("symbol")
    if symbol is not None and not isinstance(symbol, str):
        raise ScriptError(f"{where}: rest's symbol must be a string")
    if "json" not in body:
        raise ScriptError(f"{where}: rest needs 'json' (the answer's body)")
    status = body.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ScriptError(f"{where}: rest's status must be an HTTP status, not {status!r}")
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ScriptError(f"{where}: rest's headers must be an object of strings")
    return Rest(_path(body, where), symbol, body["json"], status, dict(headers))


def parse_step(value: Any, where: str = "step") -> Step:
    """One step from its decoded JSON value.

    Parameters
    ----------
    value : Any
        The decoded line: an object with exactly one key, the step's kind.
    where : str
        Where the step comes from, for error messages (``"script.jsonl:3"``).

    Raises
    ------
    ScriptError
        An unknown kind or a bad field.
    """
    if not isinstance(value, dict) or len(value) != 1:
        raise ScriptError(f"{where}: a step is an object with exactly one key (its kind)")
    ((kind, raw),) = value.items()
    if kind not in KINDS:
        raise ScriptError(f"{where}: unknown step kind {kind!r}")
    if kind == "sleep_ms":
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
            raise ScriptError(f"{where}: sleep_ms must be a whole number >= 0, not {raw!r}")
        return Sleep(raw)
    body = _body(raw, where)
    if kind == "wait_clients":
        return WaitClients(_venue(body, where), _count(body, where))
    if kind == "send":
        return _send(body, where)
    if kind == "rest":
        return _rest(body, where)
    if kind == "wait_rest":
        return WaitRest(_path(body, where), _count(body, where))
    if kind == "disconnect":
        abrupt = body.get("abrupt", False)
        if not isinstance(abrupt, bool):
            raise ScriptError(f"{where}: disconnect's abrupt must be true or false")
        return Disconnect(_venue(body, where), abrupt)
    raise ScriptError(f"{where}: unknown step kind {kind!r}")


def parse_lines(lines: Iterable[str], name: str = "script") -> list[Step]:
    """Steps from JSON Lines text (blank lines and ``#`` comments skipped)."""
    steps: list[Step] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ScriptError(f"{name}:{number}: not JSON ({exc})") from None
        steps.append(parse_step(value, f"{name}:{number}"))
    return steps


def load_script(source: str | Path | Iterable[Any]) -> list[Step]:
    """The steps of a script file (a path) or of already decoded steps (dicts or steps).

    Raises
    ------
    ScriptError
        The file cannot be read, or a line is not a valid step.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptError(f"cannot read the replay script {path}: {exc}") from None
        return parse_lines(text.splitlines(), path.name)
    steps: list[Step] = []
    for i, item in enumerate(source, 1):
        is_step = isinstance(item, WaitClients | Send | Rest | WaitRest | Disconnect | Sleep)
        steps.append(item if is_step else parse_step(item, f"step {i}"))
    return steps
