"""Which reply subjects the query responder answers to: inboxes, and only the asker's.

A requester chooses its reply subject, and the responder publishes the answer there with
its own rights: nats-server lets a responder (`allow_responses`) answer on any reply
subject, and a publish deny does not stop it (checked on nats-server 2.15). Without this
guard a tenant could make the service publish onto another tenant's `changes` subject (the
ONE_CHANGES stream stored it) or ingest subjects. So an answer goes only to an inbox
(`_INBOX`, any prefix a client is given starting so), and a tenant's inbox
(`_INBOX_TENANT.<tenant>.`, services/security/roles.py) must be the asking tenant's.
"""

from typing import Final

INBOX: Final = "_INBOX"
TENANT_INBOX: Final = "_INBOX_TENANT."


def reply_allowed(subject: str, reply: str) -> bool:
    """Whether to answer a request on `subject` (`one.v1.<tenant>.query...`) at `reply`."""
    if not reply.startswith(INBOX):
        return False
    if reply.startswith(TENANT_INBOX):
        tenant = subject.split(".")[2] if subject.count(".") >= 2 else ""
        return reply.split(".")[1] == tenant
    return True
