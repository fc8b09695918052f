"""The repository stands alone: what the code cites is in docs/, down to the section number."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SKIP = {".git", ".venv", "node_modules", "__pycache__", "alphapulse.egg-info", "fixtures"}
#: Documents that live outside the repository and must never be cited from it.
OUTSIDE = ("PROTOCOL" + ".md", "ENGINEERING" + "_NOTES", "../" + "shared/")
SECTION = r"§(\d+(?:\.\d+)?)(?:\s*#(\d+))?"


def _files(*suffixes: str) -> list[Path]:
    return [p for p in ROOT.rglob("*") if p.suffix in suffixes and p.is_file()
            and not SKIP.intersection(p.relative_to(ROOT).parts)]


def _protocol_sources() -> list[Path]:
    return [p for p in (ROOT / "mesh" / "protocol").rglob("*.py*")
            if p.suffix in (".py", ".pyi") and "__pycache__" not in p.parts]


def _sections(doc: Path) -> tuple[set[str], set[int]]:
    """Section numbers of ``doc`` (``## 1.``, ``### 1.1``) and the numbered items of its §7."""
    sections, items, current = set(), set(), ""
    for line in doc.read_text().splitlines():
        heading = re.match(r"#{2,3} (\d+(?:\.\d+)?)\.?\s", line)
        if heading:
            current = heading.group(1)
            sections.add(current)
        elif current == "7" and (item := re.match(r"(\d+)\. ", line)):
            items.add(int(item.group(1)))
    return sections, items


def _check(doc: Path, cited: list[tuple[Path, str, str]]) -> list[str]:
    sections, items = _sections(doc)
    bad = []
    for path, section, item in cited:
        if section not in sections or (item and int(item) not in items):
            bad.append(f"{path.relative_to(ROOT)}: §{section}{' #' + item if item else ''}")
    return bad


def _citations(doc_name: str) -> list[tuple[Path, str, str]]:
    cited = []
    for path in _files(".py", ".pyi", ".md", ".toml"):
        for line in path.read_text(errors="replace").splitlines():
            for ref in re.finditer(re.escape(doc_name) + r"[`\"]*,?\s*((?:" + SECTION
                                   + r"(?:\s*(?:-|,|and)\s*)?)+)", line):
                for section, item in re.findall(SECTION, ref.group(1)):
                    cited.append((path, section, item))
    return cited


def test_no_file_cites_documents_outside_the_repository():
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _files(".py", ".pyi", ".md", ".toml", ".cfg")
                 for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
                 if any(name in line for name in OUTSIDE)]
    assert offenders == []


def test_every_cited_wire_format_section_exists():
    cited = _citations("wire-format.md")
    assert len(cited) > 10  # the protocol package cites it throughout
    assert _check(DOCS / "wire-format.md", cited) == []


def test_bare_section_numbers_in_the_protocol_package_and_its_docs_exist_in_the_wire_format():
    cited = []
    paths = [*_protocol_sources(), DOCS / "protocol-types.md", DOCS / "wire-format.md"]
    for path in paths:
        for section, item in re.findall(SECTION, path.read_text()):
            cited.append((path, section, item))
    assert _check(DOCS / "wire-format.md", cited) == []


def test_every_cited_engineering_notes_section_exists():
    assert _check(DOCS / "engineering-notes.md", _citations("engineering-notes.md")) == []


def test_docs_cited_by_the_protocol_package_exist():
    missing = set()
    for path in [*_protocol_sources(), *DOCS.glob("*.md")]:
        for name in re.findall(r"docs/([\w.-]+\.md)", path.read_text()):
            if not (DOCS / name).is_file():
                missing.add(f"{path.relative_to(ROOT)}: docs/{name}")
    assert missing == set()
