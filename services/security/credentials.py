"""The service's own credentials, from settings: its NATS identity and its MongoDB user.

Secrets come from the environment or from files (Kubernetes Secrets mounted as files) and
are held as `SecretStr`, so no repr or log line shows them.
"""

import logging
from pathlib import Path
from typing import Any

from faststream.nats import NatsBroker
from faststream.nats.security import NatsCredentials, NatsNKey, NatsSecurity, NatsUserPassword
from faststream.security import BaseSecurity

from contracts.connection_spec import ConnectionSpec
from one_bus.connection import nats_options
from services.security.redact import redact_uri
from services.settings import Settings

log = logging.getLogger(__name__)


def _read_secret(path: Path) -> str:
    return path.read_text().strip()


def nats_spec(settings: Settings) -> ConnectionSpec:
    """The service's NATS identity; servers from `ONE_NATS_URL` (the spec file's if unset)."""
    if settings.nats_credentials_file is not None:
        spec = ConnectionSpec.model_validate_json(settings.nats_credentials_file.read_text())
        update: dict[str, Any] = {}
        if "nats_url" in settings.model_fields_set:
            update["servers"] = settings.nats_servers
        # Where the CA is mounted may differ from where the spec was written (a Secret).
        if settings.nats_tls_ca is not None:
            update["tls_ca"] = settings.nats_tls_ca
        return spec.model_copy(update=update)
    password: str | None = None
    if settings.nats_password is not None:
        password = settings.nats_password.get_secret_value()
    elif settings.nats_password_file is not None:
        password = _read_secret(settings.nats_password_file)
    return ConnectionSpec(
        servers=settings.nats_servers,
        user=settings.nats_user,
        password=password,
        inbox_prefix=settings.nats_inbox_prefix,
        tls_ca=settings.nats_tls_ca,
    )


def responder_spec(settings: Settings) -> ConnectionSpec | None:
    """The identity answering requests on a connection of its own, if one is configured
    (servers and CA overridden as for the main identity)."""
    if settings.nats_responder_credentials_file is None:
        return None
    return nats_spec(
        settings.model_copy(
            update={"nats_credentials_file": settings.nats_responder_credentials_file}
        )
    )


def broker_options(spec: ConnectionSpec) -> dict[str, Any]:
    """`NatsBroker` keyword arguments (servers, security, inbox prefix) for `spec`."""
    options = nats_options(spec)
    broker: dict[str, Any] = {"servers": options.pop("servers")}
    if "inbox_prefix" in options:
        broker["inbox_prefix"] = options.pop("inbox_prefix")
    tls = options.pop("tls", None)
    security: BaseSecurity | None = None
    if "user" in options:
        security = NatsUserPassword(options["user"], options["password"], ssl_context=tls)
    elif "nkeys_seed_str" in options:
        security = NatsNKey(options["nkeys_seed_str"], ssl_context=tls)
    elif "user_credentials" in options:
        security = NatsCredentials(options["user_credentials"], ssl_context=tls)
    elif tls is not None:
        security = NatsSecurity(ssl_context=tls)
    if security is not None:
        broker["security"] = security
    return broker


def warn_if_anonymous(spec: ConnectionSpec) -> None:
    if not spec.authenticated:
        log.warning(
            "!!! CONNECTING TO NATS WITHOUT CREDENTIALS: any client that reaches %s can read "
            "and forge every tenant's messages. Set ONE_NATS_CREDENTIALS_FILE or "
            "ONE_NATS_USER/ONE_NATS_PASSWORD (docs/security.md). !!!",
            ", ".join(redact_uri(server) for server in spec.servers),
        )


def mongo_credentials(settings: Settings) -> dict[str, Any]:
    """`AsyncMongoClient` keyword arguments for the service's user (none if not set)."""
    if settings.mongodb_user is None:
        return {}
    password: str | None = None
    if settings.mongodb_password is not None:
        password = settings.mongodb_password.get_secret_value()
    elif settings.mongodb_password_file is not None:
        password = _read_secret(settings.mongodb_password_file)
    return {"username": settings.mongodb_user, "password": password}


def new_broker(settings: Settings, **kwargs: Any) -> NatsBroker:
    """A `NatsBroker` connecting as the service's identity (warned if anonymous)."""
    spec = nats_spec(settings)
    if settings.nats_anonymous_warning:
        warn_if_anonymous(spec)
    return NatsBroker(**broker_options(spec), **kwargs)
