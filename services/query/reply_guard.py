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
    tenant = subject.split(".")[2] if subject.count(".") >= 2 else ""
    return inbox_of(tenant, reply)


def inbox_of(tenant: str, subject: str) -> bool:
    """Whether `subject` is an inbox `tenant` may be sent to: an inbox, and if it is a
    tenant's inbox, `tenant`'s own (also where a live query of `tenant` may push)."""
    if not subject.startswith(INBOX):
        return False
    if subject.startswith(TENANT_INBOX):
        return subject.split(".")[1] == tenant
    return True
