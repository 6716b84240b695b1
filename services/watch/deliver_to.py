"""Where a watch may push: the one rule, in one place, so a stricter layout changes only this.

The model (contracts.watches.DeliverTo) already makes `deliverTo` a concrete subject with
no wildcard. Here: it must be an inbox, a subject no service publishes on and only its
requester subscribes to, so a watch can never be used to inject messages into the bus's
own subjects, another service's, or another tenant's inboxes.
"""

from services.query.reply_guard import inbox_of


def deliver_to_allowed(tenant: str, subject: str) -> bool:
    """Whether a watch of `tenant` may push to `subject`: an inbox, and under the secure
    layout (`_INBOX_TENANT.<tenant>.…`) only the watching tenant's own, the rule the query
    responder applies to reply subjects."""
    return inbox_of(tenant, subject) and "*" not in subject and ">" not in subject
