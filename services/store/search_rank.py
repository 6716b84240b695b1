"""How `entities.search` ranks the entities that match (pure; both stores use it).

More search terms matched as whole words first, then the newest (`createdAt`), then the
document's `_id`, descending.
"""

from collections.abc import Sequence

from services.store.keys import NAME_TERMS
from services.store.port import Document


def rank(terms: Sequence[str], candidates: Sequence[Document]) -> list[Document]:
    """The candidates that match every term, best first (module docstring).

    Matching is checked again here, so a server that interprets the filter loosely can
    only cost candidates, never return a wrong entity.
    """
    scored: list[tuple[int, Document]] = []
    for candidate in candidates:
        words = candidate.get(NAME_TERMS)
        if not isinstance(words, list):
            continue
        if all(any(w.startswith(t) for w in words if isinstance(w, str)) for t in terms):
            scored.append((sum(t in words for t in terms), candidate))
    # Stable sorts, least significant key first.
    scored.sort(key=lambda pair: str(pair[1]["_id"]), reverse=True)
    scored.sort(key=lambda pair: (pair[0], pair[1].get("createdAt", 0)), reverse=True)
    return [candidate for _exact, candidate in scored]
