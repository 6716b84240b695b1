"""What the CLI prints: coloured and fitted for people at a terminal, plain and unwrapped
for pipes and files.

Rich wraps long lines at the console's width, which is 80 columns when stdout is not a
terminal: JSON, ids, subjects and URIs cut mid-token. Everything machine-readable is
therefore written whole, and tables become tab-separated lines in a pipe.
"""

import json
import sys
from collections.abc import Sequence
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

# soft_wrap: a line longer than the terminal is left to the terminal to fold, never
# broken by Rich (an id or a subject stays one token when copied).
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
# A table column that is not prose keeps values up to this long on one line.
_WHOLE_UP_TO: Final = 80
_PROSE_AT_LEAST: Final = 16


def print_json(data: Any, *, compact: bool = False, to_stderr: bool = False) -> None:
    console = err if to_stderr else out
    text = json.dumps(data, ensure_ascii=False, indent=None if compact else 2, default=str)
    if console.is_terminal:
        console.print_json(text, indent=None if compact else 2)
    else:
        # Rich wraps long lines at the console width: a pipe must get the JSON whole.
        (sys.stderr if to_stderr else sys.stdout).write(text + "\n")


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str = "",
    prose: Sequence[str] = (),
) -> None:
    """At a terminal, a table whose cells fold rather than cut; in a pipe, a header line
    and one tab-separated line per row, each value whole.

    At a terminal, the `prose` columns (free text: errors, payloads) fold first: the
    others (ids, times, subjects) keep their values on one line while the width allows.
    """
    if not out.is_terminal:
        lines = [("# " + title) if title else None, "\t".join(columns)]
        lines += ["\t".join(value.replace("\t", " ").replace("\n", " ") for value in row)
                  for row in rows]  # fmt: skip
        sys.stdout.write("".join(line + "\n" for line in lines if line is not None))
        return
    table = Table(title=title or None, title_justify="left")
    widths = [
        None
        if column in prose
        else min(max([len(column), *(len(row[index]) for row in rows)]), _WHOLE_UP_TO)
        for index, column in enumerate(columns)
    ]
    # Each cell costs 3 columns of border and padding; prose needs some room too. Where
    # even that does not fit, everything folds (never wider than the terminal).
    needed = sum(width or _PROSE_AT_LEAST for width in widths) + 3 * len(columns) + 1
    fits = needed <= out.width
    for column, width in zip(columns, widths, strict=True):
        table.add_column(column, overflow="fold", min_width=width if fits else None)
    for row in rows:
        # Text, not markup: an error quoting `[...]` is shown as it is.
        table.add_row(*(Text(value) for value in row))
    out.print(table)


def say(message: str) -> None:
    """A line for people, on stderr (stdout stays the data), never hard-wrapped."""
    err.print(message, markup=False)
