"""The web console (`one-bus console`): a tenant's records, changes, dead letters and health
in a browser, read through the bus's public subjects with the identity it is given."""

from typing import Final

# Loopback by default: beyond it the console asks for a login token.
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8085
