"""The query catalog: each name under `one.v1.<tenant>.query.` → its route (spec and handler).

Collected from the handler modules, each of which binds its handlers to their specs
(`ROUTES` there); every spec of contracts/queries.py has exactly one (test_catalog.py).
"""

from typing import Any, Final

from services.query.handlers import connections, entities, events, graph, stats, tags
from services.query.route import Route

ROUTES: Final[dict[str, Route[Any]]] = {
    route.spec.name: route
    for module in (entities, connections, events, tags, graph, stats)
    for route in module.ROUTES
}
