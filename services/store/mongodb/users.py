"""MongoDB users for the secure layout: an administrator, and the service's own user
limited to its database (readWrite there, nothing elsewhere)."""

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

_USER_EXISTS = 51003


async def create_users(
    uri: str,
    *,
    admin: tuple[str, str],
    service: tuple[str, str],
    database: str,
) -> None:
    """Create both users through `uri` (a server not yet requiring authentication).

    A user already there (a first run that stopped half-way) is kept as it is.
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=10_000
    )
    try:
        admin_user, admin_password = admin
        await _create(client, "admin", admin_user, admin_password, {"role": "root", "db": "admin"})
        service_user, service_password = service
        await _create(
            client, database, service_user, service_password, {"role": "readWrite", "db": database}
        )
    finally:
        await client.close()


async def _create(
    client: AsyncMongoClient[dict[str, Any]],
    database: str,
    user: str,
    password: str,
    role: dict[str, str],
) -> None:
    try:
        await client[database].command("createUser", user, pwd=password, roles=[role])
    except OperationFailure as error:
        if error.code != _USER_EXISTS and "already exists" not in str(error):
            raise
