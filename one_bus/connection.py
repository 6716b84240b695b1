"""A `ConnectionSpec` turned into the options nats-py's `connect` takes.

The one place where credentials and TLS are mapped to the client, for the SDK, the CLI
and the service alike.
"""

import ssl
from typing import Any

from contracts.connection_spec import ConnectionSpec


def nats_options(spec: ConnectionSpec) -> dict[str, Any]:
    """Keyword arguments for `nats.connect` (servers included)."""
    options: dict[str, Any] = {"servers": list(spec.servers)}
    if spec.user is not None:
        options["user"] = spec.user
        options["password"] = spec.password
    if spec.nkey_seed is not None:
        options["nkeys_seed_str"] = spec.nkey_seed
    if spec.creds is not None:
        options["user_credentials"] = spec.creds
    if spec.inbox_prefix is not None:
        options["inbox_prefix"] = spec.inbox_prefix
    if spec.tls_ca is not None:
        options["tls"] = ssl.create_default_context(cafile=spec.tls_ca)
    return options
