"""Read an archive back: every frame, in ``recv_ns`` order, from Parquet parts.

``iter_archive(path)`` is what replay and ``alphapulse trace`` use; pandas and DuckDB read the
same files directly (docs/archive.md). Only closed parts (``*.parquet``) are read; the open
part of a running archiver (``*.journal``) is not.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from nodes.archiver.schema import PART_RE, ArchiveError

__all__ = ["ArchiveError", "ArchivedFrame", "archive_parts", "iter_archive"]

_COLUMNS = ["recv_ns", "source", "domain", "msg_type", "sequence", "frame"]
_BATCH_ROWS = 4096


class ArchivedFrame(NamedTuple):
    """One archived frame: when and where the archiver got it, and its exact bytes."""

    recv_ns: int
    source: str
    domain: str
    msg_type: int
    sequence: int
    frame: bytes


def archive_parts(path: str | os.PathLike[str], domains: Iterable[str] | None = None
                  ) -> dict[str, list[Path]]:
    """The closed part files under ``path`` by domain, each list in time order.

    ``path`` is an archive root, any directory inside it, or one ``.parquet`` file. Raises
    :class:`ArchiveError` when it does not exist or holds no part of the domains asked for.
    """
    root = Path(path)
    if not root.exists():
        raise ArchiveError(f"archive {root} does not exist")
    wanted = None if domains is None else {d.strip() for d in domains}
    files = [root] if root.is_file() else sorted(root.rglob("*.parquet"))
    parts: dict[str, list[Path]] = {}
    for f in files:
        domain = _domain_of(f)
        if wanted is not None and domain != "?" and domain not in wanted:
            continue
        parts.setdefault(domain, []).append(f)
    if not parts:
        what = "" if wanted is None else f" of domains {sorted(wanted)}"
        raise ArchiveError(f"archive {root} holds no Parquet part{what}")
    for domain, lst in parts.items():
        lst.sort(key=lambda p: (p.name if PART_RE.match(p.name) else "~" + p.name, str(p)))
        parts[domain] = lst
    return parts


def _domain_of(f: Path) -> str:
    """The domain a part belongs to: its ``domain=`` directory, else ``"?"`` (read the rows)."""
    for parent in f.parents:
        if parent.name.startswith("domain="):
            return parent.name[len("domain="):]
    return "?"


def _read_part(f: Path, domains: set[str] | None) -> Iterator[ArchivedFrame]:
    """The rows of one part, in file order (the writer sorts each part by recv_ns)."""
    try:
        pf = pq.ParquetFile(f)
        names = set(pf.schema_arrow.names)
        missing = [c for c in _COLUMNS if c not in names]
        if missing:
            raise ArchiveError(f"{f} is not an archive part: no column {', '.join(missing)}")
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=_COLUMNS):
            cols = [batch.column(i).to_pylist() for i in range(len(_COLUMNS))]
            for row in zip(*cols, strict=True):
                if domains is not None and row[2] not in domains:
                    continue
                yield ArchivedFrame(*row)
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(f"{f} is not a readable Parquet file: {exc}") from exc


def _read_domain(files: list[Path], domains: set[str] | None) -> Iterator[ArchivedFrame]:
    for f in files:
        yield from _read_part(f, domains)


def iter_archive(path: str | os.PathLike[str], domains: Iterable[str] | None = None
                 ) -> Iterator[ArchivedFrame]:
    """Every archived frame under ``path`` (of ``domains``, ring domain names), by ``recv_ns``.

    Parts of one domain are read one after another in time order and the domains are merged,
    so memory holds one batch per domain. Frames with equal ``recv_ns`` come in file order.
    Raises :class:`ArchiveError` (a missing archive, a file that is not Parquet or lacks the
    archive's columns) as soon as it is met, possibly after some frames were yielded.
    """
    wanted = None if domains is None else {d.strip() for d in domains}
    parts = archive_parts(path, wanted)
    streams = [_read_domain(files, wanted) for _, files in sorted(parts.items())]
    if len(streams) == 1:
        yield from streams[0]
        return
    yield from heapq.merge(*streams, key=lambda f: f.recv_ns)
