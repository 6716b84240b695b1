"""A radial layout of an entity's neighbourhood, computed here so the page needs no
JavaScript library: the start in the middle, each further hop on a wider ring.

Nodes on a ring are ordered by the angle of the node that reached them, so branches stay
together and edges seldom cross. Pure and deterministic: the same graph, the same picture.
"""

import math
from collections import deque
from dataclasses import dataclass
from typing import Final

from contracts.queries import Graph

RING_GAP: Final = 150.0
MARGIN: Final = 90.0
LABEL_CHARS: Final = 24


@dataclass(frozen=True, slots=True)
class PlacedNode:
    id: str
    label: str
    type: str
    x: float
    y: float
    hops: int

    @property
    def start(self) -> bool:
        return self.hops == 0


@dataclass(frozen=True, slots=True)
class PlacedEdge:
    id: str
    source: str
    target: str
    label: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class Layout:
    width: float
    height: float
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def layout(graph: Graph, start_id: str) -> Layout:
    names = {node.id: node for node in graph.nodes}
    neighbours: dict[str, list[str]] = {node_id: [] for node_id in names}
    edges = [e for e in graph.edges if e.fromEntityId in names and e.toEntityId in names]
    for edge in sorted(edges, key=lambda e: e.id):
        neighbours[edge.fromEntityId].append(edge.toEntityId)
        neighbours[edge.toEntityId].append(edge.fromEntityId)

    hops: dict[str, int] = {}
    parent: dict[str, str] = {}
    if start_id in names:
        hops[start_id] = 0
        queue = deque([start_id])
        while queue:
            current = queue.popleft()
            for other in sorted(neighbours[current]):
                if other not in hops:
                    hops[other] = hops[current] + 1
                    parent[other] = current
                    queue.append(other)
    # Nodes the traversal returned but no kept edge reaches go on an outer ring.
    outer = max(hops.values(), default=0) + 1
    for node_id in sorted(names):
        hops.setdefault(node_id, outer)

    children: dict[str, list[str]] = {node_id: [] for node_id in names}
    for child, up in parent.items():
        children[up].append(child)
    for kids in children.values():
        kids.sort(key=lambda n: (names[n].type, names[n].name, n))
    weight: dict[str, int] = {}

    def leaves(node_id: str) -> int:
        weight[node_id] = sum(leaves(c) for c in children[node_id]) or 1
        return weight[node_id]

    position: dict[str, tuple[float, float]] = {}

    def place(node_id: str, low: float, high: float) -> None:
        # Each subtree gets a slice of the circle as wide as its share of the leaves, so
        # a node sits beside the one that reached it.
        theta = (low + high) / 2 - math.pi / 2
        r = RING_GAP * hops[node_id]
        position[node_id] = (r * math.cos(theta), r * math.sin(theta))
        start = low
        for child in children[node_id]:
            share = (high - low) * weight[child] / weight[node_id]
            place(child, start, start + share)
            start += share

    if start_id in names:
        leaves(start_id)
        place(start_id, 0.0, math.tau)
    stray = sorted(n for n in names if n not in position)
    for index, node_id in enumerate(stray):
        theta = math.tau * index / len(stray) - math.pi / 2
        position[node_id] = (RING_GAP * outer * math.cos(theta), RING_GAP * outer * math.sin(theta))
    # Shift to the drawing's own box (no empty quarter where a ring has no nodes).
    if position:
        left = min(x for x, _ in position.values()) - MARGIN
        top = min(y for _, y in position.values()) - MARGIN / 2
        position = {n: (x - left, y - top) for n, (x, y) in position.items()}
    width = max((x for x, _ in position.values()), default=0.0) + MARGIN
    height = max((y for _, y in position.values()), default=0.0) + MARGIN

    placed = [
        PlacedNode(
            node_id,
            _short(names[node_id].name),
            names[node_id].type,
            round(position[node_id][0], 1),
            round(position[node_id][1], 1),
            hops[node_id],
        )
        for node_id in sorted(names, key=lambda n: (hops[n], n))
    ]
    lines = [
        PlacedEdge(
            edge.id,
            edge.fromEntityId,
            edge.toEntityId,
            edge.relationshipType,
            round(position[edge.fromEntityId][0], 1),
            round(position[edge.fromEntityId][1], 1),
            round(position[edge.toEntityId][0], 1),
            round(position[edge.toEntityId][1], 1),
        )
        for edge in edges
    ]
    return Layout(round(width, 1), round(height, 1), placed, lines)
