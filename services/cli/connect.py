"""How every client command of `one-bus` connects: the one place for credentials.

`--credentials FILE` (env `ONE_CREDENTIALS`) is a ConnectionSpec JSON file, what
`one-bus tenant add` prints for a role: servers, and user/password, an NKey seed or a
creds file, an inbox prefix, a CA. Without it, `--nats-url` (env `ONE_NATS_URL`, several
URLs comma-separated) names an open server. `--tenant` (env `ONE_TENANT`) is whose
subjects the command uses.

Every command connects through `run`, so every command says the same thing, at once,
when the server refuses something for this identity: `not allowed: this identity may not
publish to <subject>` (or `subscribe to`), exit code 77 (`EXIT_NOT_ALLOWED`).
"""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Final, NoReturn, TypeVar

import typer
from nats.errors import Error as NatsError
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from contracts.connection_spec import ConnectionSpec
from contracts.subjects import is_tenant
from one_bus.client import DEFAULT_URL, OneClient
from one_bus.errors import ConnectError, NotAllowedError
from services.settings import Settings

T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True)

# The client's tenant for commands that name tenants in their own filters, or none
# (dlq, status, req): they never use the client's tenant-scoped subjects.
ANY_TENANT: Final = "_"
# How long a query or watch request waits for its reply (`--timeout`).
DEFAULT_REQUEST_TIMEOUT_S: Final = 10.0
# sysexits' EX_NOPERM: apart from every command's own codes (0-6).
EXIT_NOT_ALLOWED: Final = 77

NatsUrl = Annotated[
    str | None,
    typer.Option(
        "--nats-url",
        envvar="ONE_NATS_URL",
        help="NATS server URL(s), comma-separated, of an open server.",
        show_default=DEFAULT_URL,
    ),
]
Credentials = Annotated[
    Path | None,
    typer.Option(
        "--credentials",
        envvar="ONE_CREDENTIALS",
        help="A connection spec JSON file (`one-bus tenant add --out DIR` writes one per role).",
        exists=True,
        dir_okay=False,
        # Read before --tenant, whose default is the spec's tenant.
        is_eager=True,
    ),
]


def _tenant_of(ctx: typer.Context, value: str | None) -> str:
    """`--tenant`, else the tenant the credentials' spec names; a conflict is an error."""
    credentials = ctx.params.get("credentials")
    named = _tenant_in(credentials) if isinstance(credentials, Path) else None
    if value and named and value != named:
        raise typer.BadParameter(
            f"{value!r}, but {credentials} is an identity of tenant {named!r}: drop -t (and "
            "ONE_TENANT) or use that tenant's credentials"
        )
    return value or named or ""


Timeout = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.1, help="Seconds to wait for the reply (the service gets this deadline)."
    ),
]
Tenant = Annotated[
    str,
    typer.Option(
        "--tenant",
        "-t",
        envvar="ONE_TENANT",
        help="The tenant whose subjects to use (default: the one the credentials name).",
        callback=_tenant_of,
        show_default=False,
    ),
]


class CliError(Exception):
    """What a user should read instead of a traceback; `exit_code` is the process's."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def read_spec(credentials: Path) -> ConnectionSpec:
    """A spec file, or one role's spec in the combined answer of `tenant add` (`ONE_ROLE`)."""
    try:
        raw = credentials.read_bytes()
        return ConnectionSpec.model_validate_json(raw)
    except (OSError, ValidationError) as error:
        roles = _roles_in(raw) if not isinstance(error, OSError) else {}
        if not roles:
            raise CliError(f"{credentials}: not a connection spec: {error}") from error
    role = os.environ.get("ONE_ROLE")
    if role not in roles:
        raise CliError(
            f"{credentials} holds the identities of several roles ({', '.join(roles)}): name "
            "one with ONE_ROLE=<role>, or write one file per role with "
            "`one-bus tenant add NAME --out DIR`",
            2,
        )
    try:
        return ConnectionSpec.model_validate(roles[role])
    except ValidationError as error:
        raise CliError(f"{credentials}: {role}: not a connection spec: {error}") from error


def _tenant_in(credentials: Path) -> str | None:
    """The tenant a spec file (or a combined `tenant add` answer) names; what is wrong
    with the file is said when the command connects."""
    try:
        document = json.loads(credentials.read_bytes())
    except (OSError, ValueError):
        return None
    tenant = document.get("tenant") if isinstance(document, dict) else None
    return tenant if isinstance(tenant, str) else None


def _roles_in(raw: bytes) -> dict[str, object]:
    """The role -> spec entries of a combined `tenant add` answer (empty if it is not one)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(document, dict) or "tenant" not in document:
        return {}
    return {
        key: value
        for key, value in document.items()
        if isinstance(value, dict) and "servers" in value
    }


def connection_spec(nats_url: str | None, credentials: Path | None) -> ConnectionSpec:
    """The spec a command connects with: the credentials file's, else the URL's."""
    if credentials is not None:
        spec = read_spec(credentials)
        if nats_url:
            # An explicit URL overrides where to connect, never who connects.
            spec = spec.model_copy(update={"servers": _servers(nats_url)})
        return spec
    return ConnectionSpec(servers=_servers(nats_url or DEFAULT_URL))


def _servers(url: str) -> list[str]:
    return [server.strip() for server in url.split(",") if server.strip()]


async def _quiet(_: Exception) -> None:
    """nats-py logs each failed connect with a traceback; the CLI reports it once, plainly."""


async def connect(
    tenant: str,
    spec: ConnectionSpec,
    *,
    reconnect: bool = False,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> OneClient:
    """A connected client, or a CliError (exit 1) saying why not.

    One-shot commands fail fast when the server goes away; `reconnect` is for commands
    that keep following the bus (`tail`) and should ride out a server restart.
    """
    if not tenant:
        raise CliError("give --tenant (or ONE_TENANT), or --credentials of a tenant's identity", 2)
    if not is_tenant(tenant):
        raise CliError(f"tenant {tenant!r} must match [A-Za-z0-9_-]{{1,64}}", 2)
    settings = Settings()
    try:
        client = _client(tenant, spec, settings, request_timeout_s, reconnect)
    except ValueError as error:  # a spec of another tenant, said before connecting
        raise CliError(str(error), 2) from error
    try:
        return await client.start()
    except ConnectError as error:
        raise CliError(str(error)) from error
    except (OSError, TimeoutError, NatsError) as error:
        why = (
            "no connection within 10 s"
            if isinstance(error, TimeoutError)
            else str(error) or type(error).__name__
        )
        raise CliError(f"cannot connect to NATS at {', '.join(spec.servers)}: {why}") from error


def _client(
    tenant: str,
    spec: ConnectionSpec,
    settings: Settings,
    request_timeout_s: float,
    reconnect: bool,
) -> OneClient:
    return OneClient(
        tenant,
        spec,
        connect_timeout_s=10,
        request_timeout_s=request_timeout_s,
        changes_stream=settings.changes_stream,
        dlq_stream=settings.dlq_stream,
        publish_timeout_s=settings.publish_ack_timeout_s,
        allow_reconnect=reconnect,
        # nats-py tries a server forever when this is 0; 1 gives up after one retry.
        max_reconnect_attempts=-1 if reconnect else 1,
        reconnect_time_wait=0.5 if not reconnect else 2.0,
        error_cb=_quiet,
    )


def run(
    tenant: str,
    nats_url: str | None,
    credentials: Path | None,
    work: Callable[[OneClient], Awaitable[T]],
    *,
    reconnect: bool = False,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> T:
    """Connect, run `work`, disconnect; a CliError becomes its message and exit code, a
    permission violation during `work` a `not allowed: ...` line (exit 77)."""

    async def main() -> T:
        spec = connection_spec(nats_url, credentials)
        # A tenant's credentials name their tenant: no need to say it again (and a
        # command for any tenant acts as the identity's own).
        acting = spec.tenant if tenant in ("", ANY_TENANT) and spec.tenant else tenant
        client = await connect(
            acting,
            spec,
            reconnect=reconnect,
            request_timeout_s=request_timeout_s,
        )
        try:
            return await client.guard(work(client))
        except NotAllowedError as error:
            raise CliError(str(error), EXIT_NOT_ALLOWED) from error
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except CliError as error:
        fail(str(error), error.exit_code)


def fail(message: str, exit_code: int = 1) -> NoReturn:
    # Text, not markup: a message quoting `[...]` (pydantic's `[type=missing]`, a JSON
    # array) is printed as it is.
    err.print(Text.assemble(("error:", "red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code)
