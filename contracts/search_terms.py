"""The words of an entity name, as `entities.search` matches them (pure, no I/O).

The same function folds a name when the entity is stored and the text of a search, so a
search matches what was stored whatever its case or accents:

- Unicode compatibility decomposition (NFKD) and case folding: `"CAFÉ"` → `"cafe"`,
  `"Straße"` → `"strasse"`, `"ﬁle"` → `"file"`;
- combining marks (accents) are dropped;
- words are the runs of letters and digits: everything else separates them, so
  `"Ada-Lovelace_2"` is `["ada", "lovelace", "2"]`;
- each word once, in order of first appearance; at most `MAX_TERM_LENGTH` characters of a
  word and at most `max_terms` words count.

Scripts written without spaces (Chinese, Japanese, Thai) give one word per run: they match
from the start of the run only.
"""

import unicodedata
from typing import Final

MAX_TERM_LENGTH: Final = 32
"""Longer words are cut to this many characters, in names and in searches alike."""
MAX_NAME_TERMS: Final = 32
"""The words of a name that are stored (and so searchable): the first 32 distinct ones."""
MAX_QUERY_TERMS: Final = 8
"""The words a search may have."""


def _fold(text: str) -> str:
    # Decompose, fold the case, decompose again (folding can produce composed or
    # compatibility characters), then keep letters and digits, drop marks, and turn
    # everything else into a separator.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    kept: list[str] = []
    for char in folded:
        category = unicodedata.category(char)[0]
        if category in "LN":
            kept.append(char)
        elif category != "M":
            kept.append(" ")
    return "".join(kept)


def search_terms(text: str, *, max_terms: int = MAX_NAME_TERMS) -> list[str]:
    """The distinct folded words of `text`, in order, each cut to `MAX_TERM_LENGTH`."""
    terms: dict[str, None] = {}
    for word in _fold(text).split():
        terms.setdefault(word[:MAX_TERM_LENGTH])
        if len(terms) == max_terms:
            break
    return list(terms)
