"""What a NATS client needs to connect as one identity: servers, credentials, TLS.

`one-bus tenant add` prints one of these per role, the SDK and the CLI take one, and any
other NATS client can map its fields to its own options. Exactly one way of
authenticating is given (or none, on an open development server).
"""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConnectionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: list[str] = Field(min_length=1)
    user: str | None = None
    password: str | None = None
    # An NKey seed (starts with "SU"): the client signs the server's nonce with it.
    nkey_seed: str | None = None
    # A path to a creds file (a user JWT and its NKey seed), for operator/JWT setups.
    creds: str | None = None
    # The inbox prefix this identity must use for replies (its permissions allow only it).
    inbox_prefix: str | None = None
    # A CA file path: the server's certificate is checked against it (TLS on).
    tls_ca: str | None = None
    # Whose identity this is: the tenant it acts for (clients need not be told again) and
    # its role (`one-bus tenant add` issues them); both absent for service identities and
    # open servers.
    tenant: str | None = None
    role: str | None = None

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Self:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        ways = [self.user is not None, self.nkey_seed is not None, self.creds is not None]
        if sum(ways) > 1:
            raise ValueError("give one of user/password, nkey_seed or creds")
        return self

    @property
    def authenticated(self) -> bool:
        return any(value is not None for value in (self.user, self.nkey_seed, self.creds))
