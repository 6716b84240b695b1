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

    rings: dict[int, list[str]] = {}
    for node_id, hop in hops.items():
        rings.setdefault(hop, []).append(node_id)
    deepest = max(rings, default=0)
    radius = RING_GAP * deepest + MARGIN
    centre = radius
    angle: dict[str, float] = {}
    position: dict[str, tuple[float, float]] = {}
    for hop in sorted(rings):
        members = sorted(
            rings[hop], key=lambda n: (angle.get(parent.get(n, ""), math.tau), names[n].name, n)
        )
        for index, node_id in enumerate(members):
            theta = math.tau * index / len(members) - math.pi / 2 + (0.3 if hop % 2 else 0.0)
            angle[node_id] = theta % math.tau
            r = RING_GAP * hop
            position[node_id] = (centre + r * math.cos(theta), centre + r * math.sin(theta))

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
    side = round(2 * radius, 1)
    return Layout(side, side, placed, lines)
