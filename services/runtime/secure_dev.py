"""`one-bus dev --secure`: the embedded servers with authentication and TLS on.

nats-server runs with the generated users and permissions (services/security/roles.py)
and a certificate from the data directory's own CA; SecantusDB runs with `--auth` and
TLS, its users created on the first run (SecantusDB provisions users on a server not yet
requiring authentication: that one run listens on 127.0.0.1 only, for a few seconds); the
service connects as its own least-privilege identities.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
from nats.js.errors import NotFoundError
from pydantic import SecretStr

from contracts.subjects import tenant_ingest_stream
from contracts.tenancy import TenantQuotas
from one_bus.connection import nats_options
from services.runtime.embedded import HOST, EmbeddedServers, free_port
from services.runtime.streams import tenant_stream_config
from services.runtime.tenant_directory import read_quotas, tenants_bucket
from services.security.layout import SecureLayout
from services.security.roles import Role
from services.settings import Settings
from services.store.mongodb.users import create_users


@dataclass(frozen=True)
class SecureStack:
    servers: EmbeddedServers
    layout: SecureLayout
    # What the service runs with: its NATS identity, its MongoDB user (no secret in URIs).
    settings: Settings


@asynccontextmanager
async def secure_servers(
    data_dir: Path, *, nats_port: int = 0, mongo_port: int = 0, mongodb_db: str = "one"
) -> AsyncIterator[SecureStack]:
    layout = SecureLayout(data_dir)
    nats_port = nats_port or free_port()
    mongo_port = mongo_port or free_port()
    layout.prepare_nats(HOST, nats_port, tls=True)
    tls = layout.tls
    mongo = layout.mongo_secrets()
    if not mongo.provisioned:
        plain = EmbeddedServers(data_dir, mongo_port=mongo_port)
        try:
            await plain.start_mongo()
            await create_users(
                plain.mongodb_uri,
                admin=(mongo.admin_user, mongo.admin_password),
                service=(mongo.service_user, mongo.service_password),
                database=mongodb_db,
            )
        finally:
            await plain.stop()
        mongo = mongo.model_copy(update={"provisioned": True})
        layout.save_mongo_secrets(mongo)
    probe = nats_options(layout.service_spec(Role.OPERATOR))
    del probe["servers"]
    servers = EmbeddedServers(
        data_dir,
        nats_port=nats_port,
        mongo_port=mongo_port,
        nats_args=["-c", str(layout.nats_config)],
        mongo_args=[
            "--auth",
            "--tls-cert-file",
            str(tls.cert),
            "--tls-key-file",
            str(tls.key),
        ],
        mongo_uri_options=f"&tls=true&tlsCAFile={tls.ca.resolve()}",
        nats_probe_options=probe,
    )
    async with servers:
        mongodb_uri = f"{servers.mongodb_uri}&authSource={mongodb_db}"
        layout.save_mongo_secrets(mongo.model_copy(update={"uri": mongodb_uri}))
        settings = Settings(
            nats_url=f"tls://{HOST}:{nats_port}",
            nats_credentials_file=layout.spec_path(Role.SERVICE),
            nats_responder_credentials_file=layout.spec_path(Role.RESPONDER),
            mongodb_uri=mongodb_uri,
            mongodb_db=mongodb_db,
            mongodb_user=mongo.service_user,
            mongodb_password=SecretStr(mongo.service_password),
            # Each tenant's input in a stream of its own: its own duplicate window, its
            # backlog quotas enforced by nats-server (docs/tenancy.md).
            ingest_layout="per_tenant",
        )
        await declare_missing_tenant_streams(layout, settings)
        yield SecureStack(servers=servers, layout=layout, settings=settings)


async def declare_missing_tenant_streams(layout: SecureLayout, settings: Settings) -> list[str]:
    """The ingest stream of every tenant in the identity store that has none (a data dir
    from before the per-tenant layout), with the tenant's stored quotas; streams that
    exist are left as `tenant add/set` made them. Returns the tenants given one."""
    client = await nats.connect(**nats_options(layout.service_spec(Role.OPERATOR)))
    declared: list[str] = []
    try:
        js = client.jetstream(timeout=settings.publish_ack_timeout_s)
        tenants = layout.tenants()
        kv = await tenants_bucket(js) if tenants else None
        for tenant in tenants:
            try:
                await js.stream_info(tenant_ingest_stream(settings.ingest_stream, tenant))
                continue
            except NotFoundError:
                pass
            quotas = (await read_quotas(kv, tenant) if kv else None) or TenantQuotas()
            await js.add_stream(tenant_stream_config(settings, tenant, quotas))
            declared.append(tenant)
    finally:
        await client.close()
    return declared
