"""`one-bus tenant add | set | list | stats | remove`: the platform owner's tenant commands.

Identities change the secure layout of the data directory (services/security/layout.py)
and reload its running nats-server: a new tenant can connect, and a removed one is
disconnected, by the time the command returns. Quotas, usage and removal go through
services/runtime/tenants.py, connected as the operator (the layout's operator spec, or
`--credentials`); in open `dev` (no secure layout) anonymously to `--nats-url`.
"""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from contracts.tenancy import TenantQuotas
from services.cli.connect import CliError, Credentials, NatsUrl, connection_spec
from services.runtime import tenants
from services.runtime.admin_session import (
    AdminSession,
    admin_session,
    guarded,
    operator_spec,
)
from services.security.applied import users_applied
from services.security.identities import TenantError
from services.security.layout import SecureLayout, write_role_specs
from services.security.roles import TENANT_ROLES, Role
from services.settings import Settings
from services.store.mongodb.connection import admin_records

app = typer.Typer(help="Tenants: identities, quotas, usage, removal.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

DataDir = Annotated[
    Path, typer.Option(help="The data directory of `one-bus dev` (its secure layout, if any).")
]
Name = Annotated[str, typer.Argument(help="The tenant: one token of [A-Za-z0-9_-].")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON document, never wrapped.")]


def _quota(help_text: str) -> Any:
    return typer.Option(min=1, help=help_text)


MaxBacklogBytes = Annotated[int | None, _quota("Bytes its ingest backlog may hold.")]
MaxBacklogMsgs = Annotated[int | None, _quota("Messages its ingest backlog may hold.")]
MaxQueries = Annotated[int | None, _quota("Its queries in hand at once (per query replica).")]
MaxWatches = Annotated[int | None, _quota("Live queries it may hold at once.")]
MaxConsumers = Annotated[int | None, _quota("Consumers it may hold on changes and dead letters.")]


def _fail(error: Exception | str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/] {error}")
    return typer.Exit(code)


def _print_json(value: object) -> None:
    # Plain print: passwords and JSON must not be reflowed.
    print(json.dumps(value))


def _run(work: Awaitable[T]) -> T:
    try:
        return asyncio.run(guarded(work))
    except (tenants.TenantAdminError, TenantError) as error:
        raise _fail(error) from error


def _await_reload(layout: SecureLayout) -> None:
    """Return once the running nats-server (if any) has loaded the new users."""
    if not layout.running():
        err.print(
            "no nats-server of this layout runs here: reload yours to apply it "
            "(nats-server --signal reload, or SIGHUP; it applies at its next start anyway)"
        )
        return
    if not asyncio.run(users_applied(layout)):
        err.print("[yellow]warning:[/] the running nats-server has not reloaded its users")


def _roles(names: list[str]) -> tuple[Role, ...]:
    allowed = {role.value: role for role in TENANT_ROLES}
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise _fail(
            f"not a tenant role: {', '.join(unknown)} (tenant roles: {', '.join(allowed)}; "
            "the platform owner is the operator identity)",
            2,
        )
    return tuple(allowed[name] for name in names)


def _quotas(**fields: int | None) -> TenantQuotas:
    return TenantQuotas(**fields)


async def _with_admin(
    layout: SecureLayout,
    nats_url: str | None,
    credentials: Path | None,
    work: Callable[[AdminSession], Awaitable[T]],
) -> T:
    try:
        given = connection_spec(nats_url, credentials)
    except CliError as error:
        raise tenants.TenantAdminError(str(error)) from error
    spec = operator_spec(
        layout, given, credentials_given=credentials is not None, servers_given=bool(nats_url)
    )
    # The secure layout is the per-tenant one (`dev --secure`, compose, Kubernetes): each
    # tenant's input has a stream of its own, declared by `tenant add`.
    settings = Settings(ingest_layout="per_tenant") if layout.secured else Settings()
    async with admin_session(spec, settings) as admin:
        return await work(admin)


@app.command()
def add(
    name: Name,
    role: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ROLE",
            help="A role to issue (repeat): "
            + ", ".join(r.value for r in TENANT_ROLES)
            + "; default: all of them.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write one spec per role, <tenant>.<role>.json (0600)."),
    ] = None,
    max_backlog_bytes: MaxBacklogBytes = None,
    max_backlog_msgs: MaxBacklogMsgs = None,
    max_concurrent_queries: MaxQueries = None,
    max_watches: MaxWatches = None,
    max_consumers: MaxConsumers = None,
    data_dir: DataDir = Path(".one-data"),
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Add a tenant: its identities (secure layout; printed once) and its quotas."""
    layout = SecureLayout(data_dir)
    quotas = _quotas(
        max_backlog_bytes=max_backlog_bytes,
        max_backlog_msgs=max_backlog_msgs,
        max_concurrent_queries=max_concurrent_queries,
        max_watches=max_watches,
        max_consumers=max_consumers,
    )

    async def register(admin: AdminSession) -> TenantQuotas:
        return await tenants.apply_quotas(admin.js, admin.settings, name, quotas)

    answer: dict[str, Any] = {"tenant": name}
    roles = _roles(role or [r.value for r in TENANT_ROLES])
    if layout.secured:
        try:
            answer.update(layout.add_tenant(name, roles))
        except TenantError as error:
            raise _fail(error) from error
        _await_reload(layout)
    elif role or out_dir is not None:
        raise _fail("roles are identities of the secure layout; plain `dev` has none", 2)
    try:
        own = asyncio.run(guarded(_with_admin(layout, nats_url, credentials, register)))
    except tenants.TenantAdminError as error:
        if not layout.secured:
            raise _fail(error) from error
        err.print(f"[yellow]warning:[/] quotas not stored ({error}); `tenant set` them later")
    else:
        answer["quotas"] = own.model_dump(exclude_none=True)
    if out_dir is not None and layout.secured:
        files = write_role_specs(out_dir, answer)
        _print_json(
            {
                "tenant": name,
                "quotas": answer.get("quotas"),
                "files": {path.name.split(".")[1]: str(path) for path in files},
            }
        )
        return
    _print_json(answer)


@app.command("set")
def set_(
    name: Name,
    max_backlog_bytes: MaxBacklogBytes = None,
    max_backlog_msgs: MaxBacklogMsgs = None,
    max_concurrent_queries: MaxQueries = None,
    max_watches: MaxWatches = None,
    max_consumers: MaxConsumers = None,
    data_dir: DataDir = Path(".one-data"),
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Change a tenant's quotas (the others stay); in force when the command returns."""
    quotas = _quotas(
        max_backlog_bytes=max_backlog_bytes,
        max_backlog_msgs=max_backlog_msgs,
        max_concurrent_queries=max_concurrent_queries,
        max_watches=max_watches,
        max_consumers=max_consumers,
    )
    if not quotas.model_dump(exclude_none=True):
        raise _fail("give at least one quota, e.g. --max-backlog-msgs 100000", 2)

    async def work(admin: AdminSession) -> dict[str, Any]:
        own = await tenants.apply_quotas(admin.js, admin.settings, name, quotas)
        return {
            "tenant": name,
            "quotas": own.model_dump(exclude_none=True),
            "effective": own.over(admin.settings.tenant_defaults).model_dump(),
        }

    _print_json(_run(_with_admin(SecureLayout(data_dir), nats_url, credentials, work)))


def _known(layout: SecureLayout, registered: dict[str, TenantQuotas]) -> list[dict[str, Any]]:
    roles = layout.tenant_roles()
    return [
        {
            "tenant": tenant,
            "roles": [r.value for r in roles.get(tenant, [])],
            "quotas": registered[tenant].model_dump(exclude_none=True)
            if tenant in registered
            else None,
        }
        for tenant in sorted({*roles, *registered})
    ]


@app.command("list")
def list_(
    as_json: AsJson = False,
    data_dir: DataDir = Path(".one-data"),
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """The tenants: with identities (secure layout) or registered quotas; roles, quotas."""
    layout = SecureLayout(data_dir)

    async def work(admin: AdminSession) -> dict[str, TenantQuotas]:
        return await tenants.registered_tenants(admin.js)

    try:
        registered = asyncio.run(guarded(_with_admin(layout, nats_url, credentials, work)))
    except tenants.TenantAdminError as error:
        if not layout.secured:
            raise _fail(error) from error
        err.print(f"[yellow]warning:[/] quotas not read ({error})")
        registered = {}
    rows = _known(layout, registered)
    if as_json:
        _print_json(rows)
        return
    table = Table("tenant", "roles", "own quotas (others: defaults)")
    for row in rows:
        own = row["quotas"] or {}
        table.add_row(
            row["tenant"],
            ", ".join(row["roles"]) or "-",
            ", ".join(f"{k}={v}" for k, v in own.items()) or "defaults",
        )
    out.print(table)


@app.command()
def stats(
    name: Annotated[str | None, typer.Argument(help="One tenant (default: every one).")] = None,
    interval: Annotated[
        float, typer.Option(min=0.1, max=60, help="Seconds over which the input rate is measured.")
    ] = 1.0,
    as_json: AsJson = False,
    data_dir: DataDir = Path(".one-data"),
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Usage: backlog, input rate, stored records, dead letters, watches, quota use."""
    layout = SecureLayout(data_dir)

    async def work(admin: AdminSession) -> list[tenants.TenantUsage]:
        names = (
            [name]
            if name is not None
            else [
                row["tenant"] for row in _known(layout, await tenants.registered_tenants(admin.js))
            ]
        )
        async with admin_records(layout, admin.settings) as records:
            return await tenants.tenant_usage(admin.js, admin.settings, records, names, interval)

    usages = _run(_with_admin(layout, nats_url, credentials, work))
    if as_json:
        _print_json([usage.model_dump() for usage in usages])
        return
    for usage in usages:
        _print_usage(usage)


def _print_usage(usage: tenants.TenantUsage) -> None:
    backlog = usage.backlog
    age = "-" if backlog.oldest_age_s is None else f"{backlog.oldest_age_s:.1f} s"
    size = "" if backlog.bytes is None else f", {backlog.bytes} bytes held"
    out.print(f"[bold]{usage.tenant}[/]")
    out.print(f"  backlog       {backlog.messages} messages{size}, oldest {age}")
    out.print(f"  input         {usage.input_rate_per_s} messages/s")
    records = ", ".join(f"{k} {v}" for k, v in usage.records.items())
    out.print(f"  records       {records}")
    out.print(f"  changes       {usage.changes} in the stream")
    out.print(f"  dead letters  {usage.dead_letters}")
    out.print(f"  watches       {usage.watches}")
    out.print(f"  consumers     {usage.consumers}")
    table = Table("quota", "used", "limit")
    for quota, use in usage.quotas.items():
        table.add_row(quota, "-" if use.used is None else str(use.used), str(use.limit))
    out.print(table)


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="The tenant to remove.")],
    purge: Annotated[
        bool, typer.Option(help="Also erase its records, changes, dead letters (asks first).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (scripts).")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = Path(".one-data"),
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Revoke a tenant's identities, stop its backlog, end its watches, delete its
    consumers and quotas; `--purge` also erases its data."""
    if purge and not yes:
        if not sys.stdin.isatty():
            raise _fail("--purge erases the tenant's data: pass --yes to confirm (no terminal)", 2)
        if not typer.confirm(f"Erase every record, change and dead letter of {name!r}?"):
            raise _fail("not purged", 1)
    layout = SecureLayout(data_dir)
    had_identities = layout.secured and name in layout.tenants()
    if had_identities:
        layout.remove_tenant(name)
        _await_reload(layout)

    async def work(admin: AdminSession) -> tenants.Removal:
        # Open `dev` knows tenants only by their subjects; a secure layout knows them.
        unknown = layout.secured and not had_identities
        if unknown and name not in await tenants.registered_tenants(admin.js):
            raise tenants.TenantAdminError(f"no tenant {name!r}")
        if not purge:
            return await tenants.remove_tenant(admin.client, admin.js, admin.settings, name)
        async with admin_records(layout, admin.settings) as records:
            return await tenants.remove_tenant(
                admin.client, admin.js, admin.settings, name, records=records
            )

    removal = _run(_with_admin(layout, nats_url, credentials, work))
    if as_json:
        _print_json(removal.model_dump())
        return
    out.print(f"removed tenant {name}")
    for field, value in removal.model_dump(exclude={"tenant"}).items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        out.print(f"  {field.replace('_', ' ')}: {value}")
