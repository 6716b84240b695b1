"""A `ConnectionSpec` turned into the options nats-py's `connect` takes.

The one place where credentials and TLS are mapped to the client, for the SDK, the CLI
and the service alike.
"""

import logging
import ssl
from typing import Any, Final

from contracts.connection_spec import ConnectionSpec

_TLS_EOF_WARNING: Final = "returning true from eof_received() has no effect when using ssl"


class _TlsEofWarning(logging.Filter):
    """Drops asyncio's warning about a TLS connection the server closed.

    nats-py reads INFO in plain text, then upgrades the socket with `loop.start_tls` and a
    new `asyncio.StreamReaderProtocol` that is never told it runs over TLS (it gets no
    `connection_made`): at the server's close_notify it asks to stay half-open, which TLS
    cannot, and asyncio logs this warning on every TLS connection that the server ends.
    Nothing is wrong and nothing can be done by the caller: only that one message goes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _TLS_EOF_WARNING


_tls_eof_filter: Final = _TlsEofWarning()


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
        logging.getLogger("asyncio").addFilter(_tls_eof_filter)  # once: filters are a set
    return options
