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
    assert set(compiled) >= {"FlashArbitrage", "TestERC20", "DevnetPeriphery", "HostilePool", "HostileFactory", "OddERC20"}
    assert stale_artifacts(compiled) == []


def test_artifacts_record_pinned_compiler_and_settings(compiled):
    art = json.loads((ARTIFACTS / "FlashArbitrage.json").read_text())
    assert art["compiler"].startswith(SOLC_VERSION + "+")
    assert art["settings"]["optimizer"] == SETTINGS["optimizer"]
    assert art["settings"]["evmVersion"] == "cancun"
    assert art["bytecode"].startswith("0x6") and len(art["deployedBytecode"]) > 2


def test_a_changed_artifact_is_reported_stale(compiled, tmp_path, monkeypatch):
    import contracts.compile as comp

    for name, art in compiled.items():
        (tmp_path / f"{name}.json").write_text(render(art))
    monkeypatch.setattr(comp, "ARTIFACTS", tmp_path)
    assert comp.stale_artifacts(compiled) == []
    tampered = dict(compiled["FlashArbitrage"], bytecode=compiled["FlashArbitrage"]["bytecode"][:-2] + "00")
    (tmp_path / "FlashArbitrage.json").write_text(render(tampered))
    assert comp.stale_artifacts(compiled) == ["FlashArbitrage"]


def test_contract_codes_are_the_protocols_flash_sources_and_pool_kinds():
    from mesh.protocol.constants import FlashSource, PoolKind

    sol = (ARTIFACTS.parent / "src" / "FlashArbitrage.sol").read_text()
    for name, member in (("SOURCE_AAVE", FlashSource.AAVE_V3), ("SOURCE_V2", FlashSource.UNISWAP_V2),
                         ("SOURCE_V3", FlashSource.UNISWAP_V3), ("KIND_V2", PoolKind.UNISWAP_V2),
                         ("KIND_V3", PoolKind.UNISWAP_V3)):
        assert f"uint256 internal constant {name} = {int(member)};" in sol
