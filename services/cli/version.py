"""`one-bus --version`: the installed distribution's version."""

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer


def installed_version() -> str:
    try:
        return version("one-bus")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"one-bus {installed_version()}")
        raise typer.Exit()


def version_option(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """ONE Bus: the ONE ontology on NATS, persisted in MongoDB."""
