"""MongoDB users for the secure layout: an administrator, and the service's own user
limited to its database (readWrite there, nothing elsewhere)."""

from typing import Any

from pymongo import AsyncMongoClient


async def create_users(
    uri: str,
    *,
    admin: tuple[str, str],
    service: tuple[str, str],
    database: str,
) -> None:
    """Create both users through `uri` (a server not yet requiring authentication)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=10_000
    )
    try:
        admin_user, admin_password = admin
        await client.admin.command(
            "createUser", admin_user, pwd=admin_password, roles=[{"role": "root", "db": "admin"}]
        )
        service_user, service_password = service
        await client[database].command(
            "createUser",
            service_user,
            pwd=service_password,
            roles=[{"role": "readWrite", "db": database}],
        )
    finally:
        await client.close()
