"""The secure layout in a data directory: what `one-bus dev --secure` runs with and what
`one-bus tenant` changes.

    <data-dir>/security/
      identities.json     every NATS user, bcrypt hashes only              (0600)
      servers.json        the NATS URLs printed in specs, whether TLS is on
      tls/                ca.pem, server.pem, server-key.pem (0600)
      nats/nats.conf      TLS, pid file, `include auth.conf`
      nats/auth.conf      users and permissions, rewritten on tenant add/remove (0600)
      nats/reload-marker.json  the user proving auth.conf is loaded (applied.py)
      specs/<role>.json   ConnectionSpec of the ingest, query, service and operator (0600)
      mongo.json          MongoDB admin and service users and passwords (0600)
      mongo/, service/    files for container deployments (deploy_files.py)
"""

import json
import secrets
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts.connection_spec import ConnectionSpec
from contracts.subjects import INGEST_CONSUMER
from services.security.identities import (
    IdentityStore,
    TenantError,
    hash_password,
    new_password,
    write_private,
)
from services.security.nats_config import (
    nats_server_pid,
    reload_nats,
    write_auth_config,
    write_main_config,
)
from services.security.roles import SERVICE_ROLES, TENANT_ROLES, Role, inbox_prefix
from services.security.tls_files import TlsFiles, ensure_tls_files


class MongoSecrets(BaseModel):
    admin_user: str = "one-admin"
    admin_password: str
    service_user: str = "one-bus"
    service_password: str
    provisioned: bool = False
    # Where `dev --secure` last ran it (with its TLS options): what the platform owner's
    # commands (`tenant stats`, `remove --purge`) connect to unless ONE_MONGODB_URI says.
    uri: str | None = None


class SecureLayout:
    def __init__(self, data_dir: Path, *, ingest_consumer: str = INGEST_CONSUMER) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "security"
        self.ingest_consumer = ingest_consumer
        self.store = IdentityStore(self.root / "identities.json")
        self.nats_config = self.root / "nats" / "nats.conf"
        self.auth_config = self.root / "nats" / "auth.conf"
        self.pid_file = self.root / "nats" / "nats-server.pid"
        self._servers_file = self.root / "servers.json"
        self._mongo_file = self.root / "mongo.json"
        self._marker_file = self.root / "nats" / "reload-marker.json"

    # --- TLS and NATS --------------------------------------------------------------

    @property
    def tls(self) -> TlsFiles:
        return ensure_tls_files(self.root / "tls")

    def ensure_tls(self, hosts: tuple[str, ...]) -> TlsFiles:
        """The CA and a server certificate naming `hosts` (made once, kept after)."""
        return ensure_tls_files(self.root / "tls", hosts)

    def spec_path(self, role: Role) -> Path:
        return self.root / "specs" / f"{role.value}.json"

    def prepare_nats(self, host: str, port: int, *, tls: bool = True) -> None:
        """Identities for the service roles, configuration files, the URL clients use."""
        scheme = "tls" if tls else "nats"
        servers = [f"{scheme}://{host}:{port}"]
        write_private(self._servers_file, json.dumps({"servers": servers, "tls": tls}) + "\n")
        created = self.store.ensure_services()
        for role in SERVICE_ROLES:
            if role in created or not self.spec_path(role).exists():
                if role not in created:
                    raise TenantError(
                        f"{self.spec_path(role)} is missing but {role.value} exists: remove "
                        f"{self.store.path} to start over"
                    )
                user, password = created[role]
                self._write_spec(role, user, password)
            else:  # the port may differ from the last run: keep the spec's servers current
                spec = self.service_spec(role)
                self._write_spec(role, spec.user or "", spec.password or "")
        write_main_config(self.nats_config, tls=self.tls if tls else None, pid_file=self.pid_file)
        self._write_auth()

    def _write_spec(self, role: Role, user: str, password: str) -> None:
        spec = self.spec(user, password, inbox_prefix(role))
        write_private(self.spec_path(role), spec.model_dump_json(exclude_none=True, indent=2))

    def _servers(self) -> tuple[list[str], bool]:
        try:
            saved: dict[str, Any] = json.loads(self._servers_file.read_text())
        except OSError as error:
            raise TenantError(
                f"no secure layout in {self.data_dir}: run `one-bus dev --secure` or "
                "`one-bus security init` there first"
            ) from error
        return list(saved["servers"]), bool(saved["tls"])

    def service_spec_servers(self) -> list[str]:
        """The URLs every spec of this layout names."""
        return self._servers()[0]

    def spec(self, user: str, password: str, inbox: str) -> ConnectionSpec:
        servers, tls = self._servers()
        return ConnectionSpec(
            servers=servers,
            user=user,
            password=password,
            inbox_prefix=inbox,
            tls_ca=str(self.tls.ca.resolve()) if tls else None,
        )

    def service_spec(self, role: Role) -> ConnectionSpec:
        return ConnectionSpec.model_validate_json(self.spec_path(role).read_text())

    def _write_auth(self) -> None:
        # A fresh marker user each time: connecting as it proves the server loaded this file.
        user, password = f"reload-{secrets.token_hex(8)}", new_password()
        write_private(self._marker_file, json.dumps({"user": user, "password": password}))
        write_auth_config(
            self.auth_config,
            self.store.load(),
            self.ingest_consumer,
            marker=(user, hash_password(password)),
        )

    def reload_marker(self) -> ConnectionSpec:
        """An identity that can connect (and do nothing else) once auth.conf is loaded."""
        marker = json.loads(self._marker_file.read_text())
        servers, tls = self._servers()
        return ConnectionSpec(
            servers=servers,
            user=marker["user"],
            password=marker["password"],
            tls_ca=str(self.tls.ca.resolve()) if tls else None,
        )

    # --- tenants ---------------------------------------------------------------------

    @property
    def secured(self) -> bool:
        """Whether this data directory holds a secure layout (else `dev` runs open)."""
        return self._servers_file.exists()

    def add_tenant(self, tenant: str, roles: tuple[Role, ...] = TENANT_ROLES) -> dict[str, Any]:
        """Create the tenant's identities, apply them; `{"tenant", <role>: spec, ...}`, each
        spec naming its tenant and role (what `--credentials` takes as it is)."""
        self._servers()  # fail before creating anything outside a secure layout
        created = self.store.add_tenant(tenant, roles)
        self.apply()
        answer: dict[str, Any] = {"tenant": tenant}
        for role, (user, password) in created.items():
            spec = self.spec(user, password, inbox_prefix(role, tenant)).model_copy(
                update={"tenant": tenant, "role": role.value}
            )
            answer[role.value] = spec.model_dump(exclude_none=True)
        return answer

    def remove_tenant(self, tenant: str) -> None:
        self.store.remove_tenant(tenant)
        self.apply()

    def tenants(self) -> list[str]:
        return self.store.tenants()

    def tenant_roles(self) -> dict[str, list[Role]]:
        return self.store.tenant_roles() if self.store.path.exists() else {}

    def running(self) -> bool:
        """Whether the nats-server of this layout runs on this machine (its pid file)."""
        return nats_server_pid(self.pid_file) is not None

    def apply(self) -> bool:
        """Rewrite auth.conf and reload the running nats-server; False if none runs."""
        self._write_auth()
        return reload_nats(self.pid_file)

    # --- MongoDB ---------------------------------------------------------------------

    def mongo_secrets(self) -> MongoSecrets:
        if self._mongo_file.exists():
            return MongoSecrets.model_validate_json(self._mongo_file.read_text())
        made = MongoSecrets(admin_password=new_password(), service_password=new_password())
        self.save_mongo_secrets(made)
        return made

    def saved_mongo(self) -> MongoSecrets | None:
        """The MongoDB users (and last URI) of this layout, if it made them."""
        if not self._mongo_file.exists():
            return None
        return MongoSecrets.model_validate_json(self._mongo_file.read_text())

    def save_mongo_secrets(self, value: MongoSecrets) -> None:
        write_private(self._mongo_file, value.model_dump_json(indent=2))


def write_role_specs(directory: Path, answer: dict[str, Any]) -> list[Path]:
    """One spec file per role of `add_tenant`'s answer, `<tenant>.<role>.json` (0600)."""
    tenant = str(answer["tenant"])
    written = []
    for role in TENANT_ROLES:
        if role.value in answer:
            path = directory / f"{tenant}.{role.value}.json"
            write_private(path, json.dumps(answer[role.value], indent=2) + "\n")
            written.append(path)
    return written
