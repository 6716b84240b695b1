"""Files a container deployment mounts, beside the secure layout (`one-bus security init`).

For docker-compose and Kubernetes the servers are not children of `one-bus dev`, so they
get their secrets as files: the MongoDB passwords, a replica-set key file (a MongoDB
replica set with authentication requires one), mongod's certificate and key in one PEM,
and an init script creating the service's user limited to its database.
"""

import base64
import secrets
from pathlib import Path

from services.security.identities import write_private
from services.security.layout import SecureLayout

_CREATE_USER_JS = """\
// Run once by the mongo image on an empty data directory (docker-entrypoint-initdb.d),
// as the root user: the ONE Bus service's user, readWrite on its database only.
const password = fs.readFileSync("{password_file}", "utf8").trim();
db.getSiblingDB("{db}").createUser({{
  user: "{user}", pwd: password, roles: [{{ role: "readWrite", db: "{db}" }}],
}});
"""


def write_mongo_files(layout: SecureLayout, database: str) -> Path:
    """Write the MongoDB files under `<data-dir>/security/mongo/` (for mongod, which runs
    as its own user) and the service's copy of its password under `service/`; return the
    first directory."""
    directory = layout.root / "mongo"
    mongo = layout.mongo_secrets()
    write_private(directory / "admin-password", mongo.admin_password + "\n")
    write_private(directory / "service-password", mongo.service_password + "\n")
    write_private(layout.root / "service" / "mongodb-password", mongo.service_password + "\n")
    key_file = directory / "keyfile"
    if not key_file.exists():
        write_private(key_file, base64.b64encode(secrets.token_bytes(756)).decode() + "\n")
    tls = layout.tls
    write_private(directory / "server-combined.pem", tls.cert.read_text() + tls.key.read_text())
    script = _CREATE_USER_JS.format(
        db=database,
        user=mongo.service_user,
        password_file=(directory / "service-password").resolve(),
    )
    (directory / "create-service-user.js").write_text(script)
    return directory
