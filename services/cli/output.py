"""Printing JSON: coloured for people at a terminal, plain and unwrapped for pipes."""

import json
import sys
from typing import Any

from rich.console import Console

out = Console()
err = Console(stderr=True)


def print_json(data: Any, *, compact: bool = False, to_stderr: bool = False) -> None:
    console = err if to_stderr else out
    text = json.dumps(data, ensure_ascii=False, indent=None if compact else 2, default=str)
    if console.is_terminal:
        console.print_json(text, indent=None if compact else 2)
    else:
        # Rich wraps long lines at the console width: a pipe must get the JSON whole.
        (sys.stderr if to_stderr else sys.stdout).write(text + "\n")
