"""``alphapulse trace``: an opportunity's hops from an archive; bad input exits 2."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from mesh.cli import main
from mesh.protocol import encode_frame
from mesh.protocol.frame import UnknownTLV
from mesh.protocol.messages import BlockEnd
from tests.nodes.tracing.frames import OID, T0, traced_trade, write_archive

CLI = str(Path(sys.executable).parent / "alphapulse")
HOPS = ["collector received", "collector closed block", "ring written", "ring archived", "strategy published",
        "executor received", "executor checked", "executor simulated", "executor signed", "executor sent",
        "included", "result published"]


def test_the_archive_gives_every_hop_in_order_with_its_gap(tmp_path, capsys):
    archive = write_archive(tmp_path / "archive", traced_trade())
    assert main(["trace", str(OID), "--archive", str(archive), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert [h["hop"] for h in trace["hops"]] == HOPS
    ms = 1_000_000
    expected = [T0, T0 + ms, T0 + 2 * ms, T0 + 2 * ms + 500, *(T0 + k * ms for k in (3, 4, 5, 6, 7, 8, 10, 11))]
    assert [h["ns"] for h in trace["hops"]] == expected
    assert [h["gap_ns"] for h in trace["hops"]][1:] == [b - a for a, b in itertools.pairwise(expected)]
    assert trace["hops"][-1]["since_start_ns"] == 11 * ms
    assert trace["status"] == "INCLUDED" and trace["block_number"] == 78 and trace["tx_hash"] == "0x" + "ab" * 32
    assert trace["trace_id"] == T0.to_bytes(8, "little").hex() and trace["problems"] == []
    assert [s["depth"] for s in trace["spans"]] == [0, 1, 2]
    assert main(["trace", str(OID), "--archive", str(archive)]) == 0
    table = capsys.readouterr().out
    assert "INCLUDED" in table and "result published" in table and "+1.000" in table


def test_without_a_result_the_trace_ends_at_the_strategy(tmp_path, capsys):
    frames = traced_trade()
    del frames["execution"]
    archive = write_archive(tmp_path / "archive", frames)
    assert main(["trace", str(OID), "--archive", str(archive), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["status"] == "NO_RESULT" and trace["hops"][-1]["hop"] == "strategy published"


def test_hostile_spans_are_reported_not_fatal(tmp_path, capsys):
    frames = traced_trade()
    bad = encode_frame([BlockEnd(block_number=1), UnknownTLV(108, bytes(7))], source=4)
    frames["market-data"].insert(0, (T0 - 10, bad))
    frames["market-data"].insert(0, (T0 - 20, b"\x00" * 50))
    archive = write_archive(tmp_path / "archive", frames)
    assert main(["trace", str(OID), "--archive", str(archive), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hops"]) == len(HOPS)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAPULSE_")}
    return subprocess.run([CLI, "trace", *args], capture_output=True, text=True, timeout=120, env=env)


def test_unknown_ids_bad_archives_and_bad_ids_exit_2_with_one_line(tmp_path):
    archive = write_archive(tmp_path / "archive", traced_trade())
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.parquet").write_bytes(b"not parquet")
    for args, says in ((["7", "--archive", str(archive)], "no frame of opportunity 7"),
                       (["7", "--archive", str(tmp_path / "missing")], "does not exist"),
                       (["7", "--archive", str(tmp_path / "junk")], "not a readable Parquet"),
                       (["-3", "--archive", str(archive)], "opportunity id"),
                       (["7"], "one of the arguments")):
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert says in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert proc.stderr.strip().count("\n") <= 1 or "usage" in proc.stderr, proc.stderr
