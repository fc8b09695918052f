"""The committed byte tables and type stubs are the ones the layouts generate."""

from pathlib import Path

from mesh.protocol.docs import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol-types.md"


def test_committed_byte_tables_match_the_layouts():
    assert DOC.read_text() == render_markdown(), (
        "docs/protocol-types.md is stale: run python -m mesh.protocol.docs > docs/protocol-types.md")


def test_byte_tables_cover_every_extension_type():
    text = DOC.read_text()
    for name in ("ArbitrageOpportunity", "ExecutionResult", "RiskAlert", "EmergencyStop",
                 "StrategyPerformance", "CrossChainArbitrageSignal", "Heartbeat", "OrderRequest",
                 "OrderStatus"):
        assert f" {name} (" in text


def test_committed_type_stubs_match_the_layouts():
    from mesh.protocol.stubs import HERE, MODULES, render

    for module in MODULES:
        path = HERE / (module.__name__.rsplit(".", 1)[1] + ".pyi")
        assert path.read_text() == render(module), (
            f"{path.name} is stale: run python -m mesh.protocol.stubs")
