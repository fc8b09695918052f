"""The committed artifacts are exactly what the pinned solc-js makes of contracts/src."""

from __future__ import annotations

import json

import pytest

from contracts.compile import (
    ARTIFACTS,
    SETTINGS,
    SOLC_VERSION,
    compile_sources,
    render,
    stale_artifacts,
)

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def compiled():
    return compile_sources()


def test_committed_artifacts_match_a_fresh_compile(compiled):
    assert set(compiled) >= {"FlashArbitrage", "TestERC20", "DevnetPeriphery", "EvilPool"}
    assert stale_artifacts(compiled) == []


def test_artifacts_record_pinned_compiler_and_settings(compiled):
    art = json.loads((ARTIFACTS / "FlashArbitrage.json").read_text())
    assert art["compiler"].startswith(SOLC_VERSION + "+")
    assert art["settings"]["optimizer"] == SETTINGS["optimizer"]
    assert art["settings"]["evmVersion"] == "cancun"
    assert art["bytecode"].startswith("0x60") and len(art["deployedBytecode"]) > 2


def test_a_changed_artifact_is_reported_stale(compiled, tmp_path, monkeypatch):
    import contracts.compile as comp

    for name, art in compiled.items():
        (tmp_path / f"{name}.json").write_text(render(art))
    monkeypatch.setattr(comp, "ARTIFACTS", tmp_path)
    assert comp.stale_artifacts(compiled) == []
    tampered = dict(compiled["FlashArbitrage"], bytecode=compiled["FlashArbitrage"]["bytecode"][:-2] + "00")
    (tmp_path / "FlashArbitrage.json").write_text(render(tampered))
    assert comp.stale_artifacts(compiled) == ["FlashArbitrage"]


def test_every_protocol_pool_kind_and_flash_source_maps_to_a_contract_code():
    from contracts.arbitrage import FLASH_SOURCE_OF, HOP_KIND_OF, FlashSource, HopKind
    from mesh.protocol.constants import FlashSource as ProtocolFlashSource
    from mesh.protocol.constants import PoolKind

    assert set(HOP_KIND_OF) == set(PoolKind) - {PoolKind.NONE}
    assert set(HOP_KIND_OF.values()) == set(HopKind)
    assert set(FLASH_SOURCE_OF) == set(ProtocolFlashSource) - {ProtocolFlashSource.NONE}
    assert set(FLASH_SOURCE_OF.values()) == set(FlashSource)
