"""The gas table against the gas every route shape really uses, and its lookups.

The calibration test (marker ``chain``) measures every shape on the worker's devnet with the bench's
own measurement (``bench.gas.measure``, inside a snapshot) and fails when the table drifts more
than 5 % from a measurement. The lookup tests need no chain.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from alphapulse.errors import ChainError
from bench.gas import Measured, fit, measure, mispricing
from contracts import gas_table
from contracts.gas_table import (
    UNKNOWN,
    RouteShape,
    UnknownRouteShape,
    route_gas,
    route_gas_nb,
    shapes,
)
from mesh.protocol.constants import FlashSource, PoolKind

#: Largest drift allowed between the table and a measurement, in percent.
MAX_DRIFT_PCT = 5.0
V2, V3 = PoolKind.UNISWAP_V2, PoolKind.UNISWAP_V3


def _nb(shape: RouteShape, ticks: int = 0) -> int:
    return route_gas_nb(int(shape.source), shape.fused, np.array([int(k) for k in shape.kinds], dtype=np.int64), ticks)


@pytest.fixture
def own_devnet():
    """A devnet of this test's own (as ``python -m bench gas`` measures): a transaction another test
    sends late to the worker's shared devnet would move a pair between a route's plan and its trade."""
    from contracts.anvil import start_anvil, stop_anvil
    from contracts.client import Chain
    from contracts.deploy import deploy_market
    from tests.devnet_fixtures import worker_port

    port = worker_port()
    proc = start_anvil(port)
    try:
        chain = Chain(f"http://127.0.0.1:{port}")
        manifest = deploy_market(chain)
        mispricing(chain, manifest)
        yield chain, manifest
    finally:
        stop_anvil(proc)


@pytest.mark.chain
def test_table_within_5_percent_of_every_shape_measured_on_the_devnet(own_devnet):
    chain, manifest = own_devnet
    measured = measure(chain, manifest)
    by_shape = [m for m in measured if m.shape is not None]
    assert {m.shape for m in by_shape if m.crossings == 0} == set(shapes())
    assert any(m.crossings == 1 for m in by_shape)
    drifted = [f"{m.case}: measured {m.gas}, table {m.table} ({m.drift_pct:+.2f} %)"
               for m in by_shape if m.drift_pct is None or abs(m.drift_pct) > MAX_DRIFT_PCT]
    assert not drifted, "gas table drifted more than 5 % (recalibrate with `python -m bench gas --fit`):\n" + \
        "\n".join(drifted)


def test_every_shape_has_a_positive_gas_that_grows_with_each_hop():
    all_shapes = list(shapes())
    assert len(all_shapes) == len(set(all_shapes)) == 3 * (4 + 8 + 16) + (2 + 4 + 8)
    for shape in all_shapes:
        gas = route_gas(shape.source, shape.fused, shape.kinds)
        assert 21_000 < gas < 1_000_000, shape.name
        if len(shape.kinds) < gas_table.MAX_HOPS:
            longer = (V2, *shape.kinds)
            assert route_gas(shape.source, shape.fused, longer) > gas, shape.name


def test_compiled_lookup_equals_the_python_one_for_every_shape_and_crossing():
    for shape in shapes():
        for ticks in (0, 1, 3):
            assert _nb(shape, ticks) == route_gas(shape.source, shape.fused, shape.kinds, ticks), shape.name


def test_compiled_arrays_are_the_constants():
    assert gas_table.BASE_GAS_NP.tolist() == list(gas_table.BASE_GAS)
    assert gas_table.HOP_GAS_NP.tolist() == list(gas_table.HOP_GAS)
    assert gas_table.FIRST_HOP_GAS_NP.tolist() == list(gas_table.FIRST_HOP_GAS)


def test_a_crossed_tick_adds_its_gas():
    base = route_gas(FlashSource.AAVE_V3, False, (V3, V2))
    assert route_gas(FlashSource.AAVE_V3, False, (V3, V2), 2) == base + 2 * gas_table.TICK_CROSS_GAS


UNKNOWN_SHAPES = [
    pytest.param(FlashSource.AAVE_V3, False, (V2,), 0, id="one hop"),
    pytest.param(FlashSource.AAVE_V3, False, (V2,) * 5, 0, id="five hops"),
    pytest.param(FlashSource.AAVE_V3, False, (V2, PoolKind.NONE), 0, id="kind NONE"),
    pytest.param(FlashSource.AAVE_V3, False, (V2, 7), 0, id="kind 7"),
    pytest.param(FlashSource.NONE, False, (V2, V2), 0, id="source NONE"),
    pytest.param(9, False, (V2, V2), 0, id="source 9"),
    pytest.param(FlashSource.UNISWAP_V2, True, (V2, V3), 0, id="fused with a V3 last hop"),
    pytest.param(FlashSource.AAVE_V3, True, (V2, V2), 0, id="fused Aave"),
    pytest.param(FlashSource.UNISWAP_V3, True, (V2, V2), 0, id="fused V3 flash"),
    pytest.param(FlashSource.AAVE_V3, False, (V2, V2), -1, id="negative crossings"),
]


@pytest.mark.parametrize(("source", "fused", "kinds", "ticks"), UNKNOWN_SHAPES)
def test_unknown_shape_raises_a_chain_error_and_compiled_answers_unknown(source, fused, kinds, ticks):
    with pytest.raises(UnknownRouteShape) as info:
        route_gas(source, fused, kinds, ticks)
    assert isinstance(info.value, ChainError)
    assert info.value.kind == "route_shape"
    assert route_gas_nb(int(source), fused, np.array([int(k) for k in kinds], dtype=np.int64), ticks) == UNKNOWN


def test_fit_recovers_the_table_from_its_own_numbers():
    measured = [Measured(s.name, route_gas(s.source, s.fused, s.kinds), s) for s in shapes()]
    crossing = RouteShape(FlashSource.AAVE_V3, False, (V3, V2))
    measured.append(Measured("crossing", route_gas(crossing.source, False, crossing.kinds, 1), crossing, 1))
    fitted = fit(measured)
    assert [fitted[f"BASE_GAS[{n}]"] for n in gas_table.LENDER_NAMES] == list(gas_table.BASE_GAS)
    assert (fitted["HOP_GAS[V2]"], fitted["HOP_GAS[V3]"]) == gas_table.HOP_GAS[1:]
    assert fitted["FIRST_HOP_GAS[V3]"] == gas_table.FIRST_HOP_GAS[V3]
    assert gas_table.FIRST_HOP_GAS[V2] == gas_table.HOP_GAS[V2]
    assert fitted["TICK_CROSS_GAS"] == gas_table.TICK_CROSS_GAS


def test_drift_is_relative_to_the_measurement():
    shape = RouteShape(FlashSource.UNISWAP_V2, True, (V2, V2))
    table = route_gas(shape.source, True, shape.kinds)
    case = Measured("x", table * 2, shape)
    assert case.table == table
    assert case.drift_pct == pytest.approx(-50.0)
    assert replace(case, shape=None).drift_pct is None
