"""The bodies of ``alphapulse replay`` and ``alphapulse archive stats`` (see cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mesh.config import MeshConfig, load_config
from nodes.archiver.read import ArchivedFrame, ArchiveError, archive_parts, iter_archive
from nodes.archiver.replay import (
    Pace,
    Progress,
    ReplayCounts,
    only_sources,
    replay_frames,
    topic_key,
)

__all__ = ["archive_stats", "cmd_replay", "cmd_stats"]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _rows(parts: dict[str, list[Path]]) -> int:
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for fs in parts.values() for f in fs)
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(f"not a readable Parquet file: {exc}") from exc


class _Outlets:
    """The replay's rings (one per domain) and publisher, made on first use, closed at exit."""

    def __init__(self, cfg: MeshConfig, args: argparse.Namespace) -> None:
        self.cfg = cfg
        self.args = args
        self.rings: dict[str, Any] = {}
        self.pub: Any = None
        self.ctx: Any = None
        self.security: Any = None

    def write_ring(self, frame: bytes, domain: str) -> bool:
        writer = self.rings.get(domain)
        if writer is None:
            writer = self.rings[domain] = self._ring(domain)
        return bool(writer.write(frame))

    def _ring(self, domain: str) -> Any:
        from shm.inspect import ring_info
        from shm.writer import RingWriter
        writer = RingWriter.create(domain, self.args.writer, namespace=self.cfg.ring_namespace,
                                   capacity=self.cfg.ring_capacity)
        deadline = time.monotonic() + max(self.args.linger, 30.0)
        while self.args.readers and time.monotonic() < deadline:
            info = ring_info(writer.name)
            placed = [r for r in info.readers if r.alive and r.epoch == info.epoch]
            if len(placed) >= self.args.readers:
                break
            time.sleep(0.02)
        return writer

    def publish(self, f: ArchivedFrame) -> None:
        if self.pub is None:
            self._publisher()
        self.pub.publish_frame(f.frame, f.msg_type, topic_key(f.source),
                               timestamp_ns=int.from_bytes(f.frame[16:24], "little"))

    def _publisher(self) -> None:
        from mesh.protocol.constants import SourceType
        from mesh.pubsub import Publisher, make_context
        from mesh.security import Security
        self.cfg.node(self.args.as_name)  # a ConfigError naming the known nodes if undeclared
        self.ctx = make_context(self.cfg)
        server = None
        if self.cfg.curve:
            self.security = Security(self.cfg, self.args.as_name)
            self.security.start_authenticator(self.ctx)
            server = self.security.server
        self.pub = Publisher(self.ctx, self.cfg, self.args.as_name,
                             source=SourceType.STATE_MANAGER, secure=server)
        time.sleep(self.args.settle)

    def linger(self) -> None:
        """Wait (at most ``--linger``) until every live reader of the rings read every frame,
        and at least ``--readers`` of them (a reader still attaching when the ring goes away
        lets it go unread)."""
        from shm.inspect import ring_info
        deadline = time.monotonic() + self.args.linger
        for writer in self.rings.values():
            while time.monotonic() < deadline:
                live = [r for r in ring_info(writer.name).readers if r.alive]
                if len(live) >= self.args.readers and all(r.lag_frames == 0 for r in live):
                    break
                time.sleep(0.02)

    def close(self) -> None:
        for writer in self.rings.values():
            writer.unlink()
            writer.close()
        if self.pub is not None:
            self.pub.close()
        if self.security is not None:
            self.security.stop_authenticator()
        if self.ctx is not None:
            self.ctx.term()


def cmd_replay(args: argparse.Namespace) -> int:
    """``alphapulse replay``: see :mod:`nodes.archiver.replay`."""
    cfg = load_config(args.config)
    parts = archive_parts(args.archive, args.domains)
    progress = Progress(_rows(parts))
    frames: Iterator[ArchivedFrame] = iter_archive(args.archive, args.domains)
    frames = only_sources(frames, not args.no_rings, not args.no_mesh)
    out = _Outlets(cfg, args)
    start = time.monotonic()
    counts = ReplayCounts()
    try:
        counts = replay_frames(
            frames, pace=Pace(args.speed),
            write_ring=None if args.no_rings else _ring_writer(out),
            publish=None if args.no_mesh else out.publish, progress=progress)
        out.linger()
    finally:
        progress.close()
        out.close()
    _say(f"replayed {counts.ring + counts.mesh} frames ({counts.ring} into rings, "
          f"{counts.mesh} onto the mesh, {counts.refused} refused by a full ring) in "
          f"{time.monotonic() - start:.1f} s")
    return 0


def _ring_writer(out: _Outlets) -> Any:
    def write(frame: bytes) -> bool:
        from mesh.domains import ring_domain
        return out.write_ring(frame, ring_domain(frame[4]) if len(frame) > 4 and
                              1 <= frame[4] <= 4 else "market-data")
    return write


def archive_stats(path: str) -> dict[str, Any]:
    """Per domain: parts, frames, bytes of frames (raw) and of files, and the ratio."""
    out: dict[str, Any] = {"domains": {}}
    total_raw = total_file = 0
    for domain, files in sorted(archive_parts(path).items()):
        rows = raw = size = 0
        for f in files:
            try:
                table = pq.read_table(f, columns=["frame"])
            except (OSError, pa.ArrowException) as exc:
                raise ArchiveError(f"{f} is not a readable Parquet file: {exc}") from exc
            rows += table.num_rows
            raw += int(pc.sum(pc.binary_length(table.column("frame"))).as_py() or 0)
            size += f.stat().st_size
        out["domains"][domain] = {"parts": len(files), "frames": rows, "raw_bytes": raw,
                                  "file_bytes": size, "ratio": round(raw / size, 3) if size
                                  else 0.0}
        total_raw += raw
        total_file += size
    out["raw_bytes"], out["file_bytes"] = total_raw, total_file
    out["ratio"] = round(total_raw / total_file, 3) if total_file else 0.0
    return out


def cmd_stats(args: argparse.Namespace) -> int:
    """``alphapulse archive stats PATH``."""
    stats = archive_stats(args.archive)
    if args.json:
        _say(json.dumps(stats))
        return 0
    _say(f"{'domain':<14}{'parts':>7}{'frames':>12}{'raw bytes':>14}{'on disk':>14}{'ratio':>8}")
    for domain, d in stats["domains"].items():
        _say(f"{domain:<14}{d['parts']:>7}{d['frames']:>12}{d['raw_bytes']:>14}"
              f"{d['file_bytes']:>14}{d['ratio']:>8.2f}")
    _say(f"{'all':<14}{'':>7}{'':>12}{stats['raw_bytes']:>14}{stats['file_bytes']:>14}"
          f"{stats['ratio']:>8.2f}")
    return 0
