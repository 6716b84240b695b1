"""The graph layout and the plots: pure functions, no servers."""

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.queries import Graph
from contracts.records import ConnectionRecord, EntityRecord
from services.console import plots
from services.console.graph_layout import RING_GAP, layout
from services.console.health import per_hour


def entity(entity_id: str, name: str = "") -> EntityRecord:
    return EntityRecord(
        id=entity_id,
        groupId="t",
        type="creator",
        name=name or entity_id,
        properties={},
        createdAt=1,
        updatedAt=1,
    )


def edge(source: str, target: str) -> ConnectionRecord:
    return ConnectionRecord(
        id=f"{source}-{target}",
        groupId="t",
        fromEntityId=source,
        toEntityId=target,
        relationshipType="owns",
        createdAt=1,
    )


def test_each_hop_is_one_ring_further_from_the_start() -> None:
    graph = Graph(
        nodes=[entity(n) for n in "abcd"],
        edges=[edge("a", "b"), edge("c", "a"), edge("b", "d")],
        truncated=False,
    )

    drawn = layout(graph, "a")

    by_id = {node.id: node for node in drawn.nodes}
    centre = by_id["a"]
    assert {n.id: n.hops for n in drawn.nodes} == {"a": 0, "b": 1, "c": 1, "d": 2}
    for node in drawn.nodes:
        distance = math.hypot(node.x - centre.x, node.y - centre.y)
        assert math.isclose(distance, RING_GAP * node.hops, abs_tol=0.5)
    assert {(e.source, e.target) for e in drawn.edges} == {("a", "b"), ("c", "a"), ("b", "d")}


def test_an_edge_to_a_node_the_reply_left_out_is_not_drawn() -> None:
    graph = Graph(nodes=[entity("a"), entity("b")], edges=[edge("a", "zz")], truncated=True)

    drawn = layout(graph, "a")

    assert drawn.edges == []
    assert {n.id for n in drawn.nodes} == {"a", "b"}  # b: unreached, on the outer ring


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=40))
def test_every_node_is_placed_inside_the_drawing_and_the_same_graph_draws_the_same(
    pairs: list[tuple[int, int]],
) -> None:
    ids = sorted({f"n{x}" for pair in pairs for x in pair} | {"n0"})
    graph = Graph(
        nodes=[entity(i) for i in ids],
        edges=[edge(f"n{a}", f"n{b}") for a, b in pairs if a != b],
        truncated=False,
    )

    drawn = layout(graph, "n0")

    assert drawn == layout(graph, "n0")
    assert len(drawn.nodes) == len(ids)
    assert all(0 <= n.x <= drawn.width and 0 <= n.y <= drawn.height for n in drawn.nodes)


def test_a_long_name_is_cut_for_the_label() -> None:
    drawn = layout(Graph(nodes=[entity("a", "x" * 200)], edges=[], truncated=False), "a")

    assert drawn.nodes[0].label.endswith("…")
    assert len(drawn.nodes[0].label) < 30


def test_a_line_spans_the_plot_and_ends_at_the_last_value() -> None:
    drawn = plots.line([(0.0, 1.0), (5.0, 4.0), (10.0, 2.0)])

    xs = [float(p.split(",")[0]) for p in drawn.points.split()]
    assert (xs[0], xs[-1]) == (plots.PAD, plots.WIDTH - plots.PAD)
    assert (drawn.last, drawn.top, drawn.samples) == (2.0, 4.0, 3)
    assert plots.line([]).samples == 0


def test_dead_letters_are_counted_in_the_hour_they_came() -> None:
    now = datetime.now(UTC)
    times = [now, now, now - timedelta(hours=2), now - timedelta(days=3)]
    counts = per_hour(times, hours=3, now=now)

    assert [count for _, count in counts] == [1, 0, 2]
    bars = plots.bars(counts)
    assert (bars.total, bars.top) == (3, 2)
    assert bars.bars[1].height == 0
