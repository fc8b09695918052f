"""The cycle graph finds exactly the simple cycles from the profit tokens, once each, whatever the
order pools join in; its index lists exactly the cycles through each slot; the screen marks each
cycle once per pass and keeps exactly those above its threshold."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from nodes.strategy.graph import CycleGraph
from nodes.strategy.screen import Screen

Route = tuple[tuple[int, str], ...]  # ((slot, token_in), ...), starting at a profit token


def _token(n: int) -> str:
    return f"0x{n:040x}"


def brute_cycles(ends: dict[int, tuple[str, str]], profit: list[str], max_hops: int) -> set[Route]:
    """Every sequence of distinct pools forming a simple token cycle of 2..max_hops hops from a
    profit token, by depth-first search over all pools."""
    found: set[Route] = set()

    def walk(start: str, at: str, tokens: list[str], route: list[tuple[int, str]]) -> None:
        for slot, (a, b) in ends.items():
            if a == b or slot in (p for p, _ in route) or at not in (a, b):
                continue
            nxt = b if at == a else a
            step = [*route, (slot, at)]
            if nxt == start and len(step) >= 2:
                found.add(tuple(step))
            elif nxt not in tokens and len(step) < max_hops:
                walk(start, nxt, [*tokens, nxt], step)

    for s in {p.lower() for p in profit}:
        walk(s, s, [s], [])
    return found


def graph_cycles(graph: CycleGraph) -> list[Route]:
    """The graph's cycles as routes (a list: duplicates stay visible)."""
    out = []
    for c in range(graph.count):
        route = tuple((slot, graph.ends[slot][0] if zero else graph.ends[slot][1])
                      for slot, zero in graph.route(c))
        assert graph.start_token(c) == route[0][1]
        assert graph.start[c] == graph.token_ids[route[0][1]]
        out.append(route)
    return out


def random_market(rng: random.Random) -> tuple[dict[int, tuple[str, str]], list[str]]:
    """A small random token graph (parallel pools and a self-pair allowed) and its profit tokens."""
    tokens = [_token(n) for n in range(rng.randrange(2, 7))]
    slots = rng.sample(range(40), rng.randrange(2, 11))
    ends = {}
    for slot in slots:
        a = rng.choice(tokens)
        b = rng.choice(tokens) if rng.random() < 0.05 else rng.choice([t for t in tokens if t != a])
        ends[slot] = (a, b)
    profit = rng.sample(tokens, rng.randrange(1, min(3, len(tokens)) + 1))
    if rng.random() < 0.2:
        profit.append(_token(99))  # a profit token no pool holds
    return ends, [p.upper().replace("0X", "0x") for p in profit]  # any case


def build(ends: dict[int, tuple[str, str]], profit: list[str], max_hops: int, order: list[int],
          **kwargs: int) -> CycleGraph:
    """A graph with the pools joined in ``order``."""
    graph = CycleGraph(profit, max_hops, **kwargs)
    for slot in order:
        graph.add_pool(slot, *ends[slot])
    return graph


@pytest.mark.parametrize("max_hops", [2, 3, 4])
def test_cycles_are_exactly_the_brute_force_enumeration_once_each_in_any_join_order(max_hops):
    rng = random.Random(max_hops)
    for trial in range(60):
        ends, profit = random_market(rng)
        want = brute_cycles(ends, profit, max_hops)
        for _ in range(3):
            order = rng.sample(list(ends), len(ends))
            got = graph_cycles(build(ends, profit, max_hops, order))
            assert len(got) == len(set(got)), f"trial {trial}: duplicates, order {order}"
            assert set(got) == want, f"trial {trial}: {ends} {profit} order {order}"


def test_a_pool_joining_twice_or_joining_itself_adds_nothing():
    a, b, c = _token(1), _token(2), _token(3)
    graph = CycleGraph([a], 3)
    assert graph.add_pool(0, a, b) == 0
    assert graph.add_pool(1, b, a) == 2  # a->b->a over pools 0, 1 and back
    assert graph.add_pool(1, b, c) == 0 and graph.add_pool(2, c, c.upper().replace("0X", "0x")) == 0
    assert graph.count == 2


def test_many_parallel_pools_grow_the_arrays_and_keep_every_cycle():
    a, b = _token(1), _token(2)
    ends = {slot: (a, b) if slot % 2 else (b, a) for slot in range(40)}
    graph = build(ends, [a], 2, list(ends))
    got = graph_cycles(graph)
    assert len(got) == len(set(got)) == 40 * 39
    assert set(got) == brute_cycles(ends, [a], 2)


def test_the_index_lists_exactly_the_cycles_through_each_slot():
    rng = random.Random(5)
    for _ in range(40):
        ends, profit = random_market(rng)
        order = rng.sample(list(ends), len(ends))
        graph = build(ends, profit, 4, order[:-1])
        graph.index(41)
        graph.add_pool(order[-1], *ends[order[-1]])  # the index is rebuilt after a join
        for slots in (41, max(ends) + 1, rng.randrange(1, 41)):
            ptr, idx = graph.index(slots)
            assert len(ptr) == slots + 1 and ptr[0] == 0 and len(idx) == ptr[-1]
            for s in range(slots):
                listed = idx[ptr[s]:ptr[s + 1]].tolist()
                want = [c for c in range(graph.count) if s in {p for p, _ in graph.route(c)}]
                assert sorted(listed) == want, f"slot {s}"


def test_max_cycles_per_pool_keeps_the_shortest_and_counts_the_rest_as_dropped():
    rng = random.Random(9)
    checked = 0
    for _ in range(80):
        ends, profit = random_market(rng)
        cap = rng.randrange(0, 4)
        graph = CycleGraph(profit, 4, max_cycles_per_pool=cap)
        joined: dict[int, tuple[str, str]] = {}
        kept: set[Route] = set()
        for slot in rng.sample(list(ends), len(ends)):
            joined[slot] = ends[slot]
            new = brute_cycles(joined, profit, 4) - brute_cycles({k: v for k, v in joined.items() if k != slot},
                                                                 profit, 4)
            dropped = graph.dropped
            added = graph.add_pool(slot, *ends[slot])
            now = set(graph_cycles(graph))
            mine = now - kept
            kept = now
            assert added == len(mine) == min(cap, len(new))
            assert mine <= new
            assert graph.dropped - dropped == len(new) - len(mine)
            if new - mine and mine:
                assert max(map(len, mine)) <= min(map(len, new - mine))
                checked += 1
    assert checked > 0


def _through(graph: CycleGraph, slots: set[int]) -> set[int]:
    return {c for c in range(graph.count) if slots & {p for p, _ in graph.route(c)}}


def _score(graph: CycleGraph, rate: np.ndarray, c: int) -> float:
    total = 0.0
    for slot, zero in graph.route(c):
        total += rate[slot, 0 if zero else 1]
    return total


def test_the_screen_marks_each_cycle_once_and_returns_exactly_those_above_the_threshold():
    rng = random.Random(3)
    np_rng = np.random.default_rng(3)
    screen = Screen(margin=1e-3)
    checked = 0
    for _ in range(60):
        ends, profit = random_market(rng)
        graph = build(ends, profit, 4, rng.sample(list(ends), len(ends)))
        rate = np_rng.normal(0.0, 0.02, (40, 2))
        rate[np_rng.random((40, 2)) < 0.1] = -np.inf
        for _pass in range(2):
            dirty_slots = rng.sample(list(ends), rng.randrange(1, len(ends) + 1))
            dirty = np.array(dirty_slots + dirty_slots[:1], np.int32)  # a slot twice: still once
            cycles, scores, seen = screen.run(dirty, graph, rate, 40)
            through = _through(graph, set(dirty_slots))
            assert seen == len(through)
            want = {c for c in through if _score(graph, rate, c) > math.log1p(1e-3)}
            assert len(cycles) == len(set(cycles.tolist())) and set(cycles.tolist()) == want
            assert list(scores) == sorted(scores, reverse=True)
            for c, score in zip(cycles, scores, strict=True):
                assert score == pytest.approx(_score(graph, rate, int(c)), abs=1e-12)
            checked += len(want)
    assert checked > 0


def test_a_full_screen_keeps_the_best_cycles_whatever_the_order_of_the_dirty_pools():
    a, b = _token(1), _token(2)
    graph = build({slot: (a, b) for slot in range(40)}, [a], 2, list(range(40)))
    rng = np.random.default_rng(4)
    for _ in range(5):
        rate = np.zeros((40, 2))
        rate[:, 0] = rng.permutation(np.linspace(0.01, 0.4, 40))
        screen = Screen(margin=0.0, max_candidates=7)
        dirty = rng.permutation(40).astype(np.int32)
        cycles, scores, seen = screen.run(dirty, graph, rate, 40)
        assert seen == graph.count == 40 * 39 and len(cycles) == 7 and (scores > 0).all()
        every = sorted((_score(graph, rate, c) for c in range(graph.count)), reverse=True)
        assert list(scores) == pytest.approx(every[:7], abs=1e-12)


def test_every_pair_of_orders_gives_the_same_cycles_on_a_dense_market():
    tokens = [_token(n) for n in range(4)]
    ends = {slot: pair for slot, pair in enumerate(itertools.combinations(tokens, 2))}
    ends[len(ends)] = (tokens[1], tokens[0])
    want = brute_cycles(ends, tokens[:2], 4)
    for order in itertools.islice(itertools.permutations(ends), 0, None, 97):
        got = graph_cycles(build(ends, tokens[:2], 4, list(order)))
        assert len(got) == len(set(got)) and set(got) == want, order
