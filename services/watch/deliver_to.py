"""Where a watch may push: the one rule, in one place, so a stricter layout changes only this.

The model (contracts.watches.DeliverTo) already makes `deliverTo` a concrete subject with
no wildcard. Here: it must be an inbox, a subject no service publishes on and only its
requester subscribes to, so a watch can never be used to inject messages into the bus's
own subjects or another service's.
"""

from typing import Final

INBOX_PREFIX: Final = "_INBOX"


def deliver_to_allowed(tenant: str, subject: str) -> bool:
    """Whether a watch of `tenant` may push to `subject` (already a wildcard-free subject).

    Any inbox for now (`_INBOX.…`, or a custom prefix such as `_INBOX_<tenant>_…`);
    `tenant` is here for a layout that gives each tenant inboxes of its own.
    """
    del tenant  # every tenant may use any inbox until inboxes are per tenant
    return subject.startswith(INBOX_PREFIX) and "*" not in subject and ">" not in subject
