"""NATS identities: generated passwords, stored only as bcrypt hashes.

The store is one JSON file (`identities.json`, mode 0600). A tenant's passwords are
printed once by `one-bus tenant add` and never kept in clear; the service's and the
operator's are written to their own spec files (0600) for the processes that use them.
"""

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import bcrypt
from pydantic import BaseModel, ConfigDict

from contracts.subjects import is_tenant
from services.security.roles import (
    SERVICE_ROLES,
    TENANT_ROLES,
    Permissions,
    Role,
    service_permissions,
    tenant_permissions,
    user_name,
)

# nats-server checks the hash on every connect: at 10 rounds a connect, TLS included,
# took 72 ms (median, docs/security.md); the passwords are 192-bit random anyway.
_BCRYPT_ROUNDS: Final = 10


class TenantError(ValueError):
    """A tenant name that is invalid, already there, or not there."""


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    role: Role
    tenant: str | None = None
    password_hash: str

    def permissions(self, ingest_consumer: str) -> Permissions:
        if self.tenant is not None:
            return tenant_permissions(self.role, self.tenant, ingest_consumer)
        return service_permissions(self.role, ingest_consumer)


class _Stored(BaseModel):
    identities: list[Identity] = []


def new_password() -> str:
    return secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=_BCRYPT_ROUNDS)).decode()


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by the owner only, atomically (no moment with a wider mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.replace(temporary, path)


class IdentityStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time: two `tenant add` at once must not lose either."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def load(self) -> list[Identity]:
        if not self.path.exists():
            return []
        return _Stored.model_validate_json(self.path.read_text()).identities

    def _save(self, identities: list[Identity]) -> None:
        write_private(self.path, _Stored(identities=identities).model_dump_json(indent=2) + "\n")

    def tenants(self) -> list[str]:
        return sorted({i.tenant for i in self.load() if i.tenant is not None})

    def tenant_roles(self) -> dict[str, list[Role]]:
        """Each tenant's roles, in the order `tenant add` issues them."""
        found: dict[str, list[Role]] = {}
        for identity in self.load():
            if identity.tenant is not None:
                found.setdefault(identity.tenant, []).append(identity.role)
        return {
            tenant: sorted(roles, key=TENANT_ROLES.index) for tenant, roles in sorted(found.items())
        }

    def add_tenant(
        self, tenant: str, roles: tuple[Role, ...] = TENANT_ROLES
    ) -> dict[Role, tuple[str, str]]:
        """Create the tenant's identities; return role -> (user, password), shown once."""
        if not is_tenant(tenant):
            raise TenantError(f"{tenant!r}: a tenant is one token of [A-Za-z0-9_-]{{1,64}}")
        if not roles:
            raise TenantError("give at least one role")
        for role in roles:
            if role not in TENANT_ROLES:
                raise TenantError(
                    f"{role.value} is not a tenant role; tenant roles: "
                    + ", ".join(r.value for r in TENANT_ROLES)
                    + " (the platform owner is the operator identity)"
                )
        with self._locked():
            return self._add_tenant(tenant, tuple(dict.fromkeys(roles)))

    def _add_tenant(self, tenant: str, roles: tuple[Role, ...]) -> dict[Role, tuple[str, str]]:
        identities = self.load()
        if any(i.tenant == tenant for i in identities):
            raise TenantError(f"tenant {tenant!r} exists; remove it first to issue new secrets")
        created: dict[Role, tuple[str, str]] = {}
        for role in roles:
            password = new_password()
            user = user_name(role, tenant)
            identities.append(
                Identity(user=user, role=role, tenant=tenant, password_hash=hash_password(password))
            )
            created[role] = (user, password)
        self._save(identities)
        return created

    def remove_tenant(self, tenant: str) -> None:
        with self._locked():
            self._remove_tenant(tenant)

    def _remove_tenant(self, tenant: str) -> None:
        identities = self.load()
        kept = [i for i in identities if i.tenant != tenant]
        if len(kept) == len(identities):
            raise TenantError(f"no tenant {tenant!r}")
        self._save(kept)

    def ensure_services(self) -> dict[Role, tuple[str, str]]:
        """Create the service and operator identities that are missing; return the new ones."""
        with self._locked():
            return self._ensure_services()

    def _ensure_services(self) -> dict[Role, tuple[str, str]]:
        identities = self.load()
        present = {i.role for i in identities if i.tenant is None}
        created: dict[Role, tuple[str, str]] = {}
        for role in SERVICE_ROLES:
            if role in present:
                continue
            password = new_password()
            user = user_name(role)
            identities.append(Identity(user=user, role=role, password_hash=hash_password(password)))
            created[role] = (user, password)
        if created:
            self._save(identities)
        return created


def authorization_config(
    identities: list[Identity], ingest_consumer: str, marker: tuple[str, str] | None = None
) -> str:
    """nats-server's `authorization` block for these identities (the server reads JSON).

    `marker` (user, password hash) is a user allowed nothing: one per written file, so a
    client that can connect as it knows the server has loaded this file.
    """
    users: list[dict[str, object]] = [
        {
            "user": identity.user,
            "password": identity.password_hash,
            "permissions": identity.permissions(ingest_consumer).to_config(),
        }
        for identity in identities
    ]
    if marker is not None:
        users.append(
            {
                "user": marker[0],
                "password": marker[1],
                "permissions": {"publish": {"deny": [">"]}, "subscribe": {"deny": [">"]}},
            }
        )
    return "authorization: " + json.dumps({"users": users}, indent=2) + "\n"
