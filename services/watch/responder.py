"""`one.v1.<tenant>.watch.<query>`, `.watch.renew`, `.watch.stop`: request/reply in a queue
group, like queries (services/query/responder.py: plain nats-py subscriptions whose callback
only starts the work). The replica's `Admission` (services/query/admission.py) is the
query responder's: a tenant's watch requests and queries share its
`max_concurrent_queries` in hand, and the replica's `query_max_pending`; beyond, `timeout`
with `details.reason: "overloaded"` at once.

Everything a caller sends is validated before anything is read or stored; every outcome is
a reply in the queries' shape (`invalid_request`, `not_found`, `timeout`, `internal`, and
`limit_exceeded` for too many watches).

Answers and pushes follow the one reply rule (services/security/reply_guard.py): a
request whose reply subject is not its tenant's own inbox gets no answer at all, and a
`deliverTo` that is not is refused as `invalid_request`. The per-connection limit counts
by the asking identity the reply subject names (`asker_of`).
"""

import asyncio
import contextlib
import logging
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from prometheus_client import CollectorRegistry

from contracts.errors import problem
from contracts.subjects import (
    WATCH_RENEW,
    WATCH_STOP,
    WATCH_WILDCARD,
    SubjectError,
    parse_request_subject,
    request_tenant,
)
from contracts.watches import WATCH_MODELS, WATCHABLE_MODELS, WatchControl
from services.query.admission import Admission, OverloadedError, replica_admission
from services.query.deadline import deadline_in, request_budget_s
from services.query.dispatcher import MAX_REQUEST_BYTES, wait_after
from services.query.errors import InvalidRequestError, failure_reply
from services.query.progress import IngestProgress
from services.query.replies import Reply, error_reply, ok_reply
from services.security.reply_guard import ReplyGuard, asker_of
from services.settings import Settings
from services.watch.intake import LimitExceededError, WatchGoneError
from services.watch.service import WatchService

log = logging.getLogger(__name__)

_KNOWN: Final = sorted([*WATCH_MODELS, WATCH_RENEW, WATCH_STOP])


def parse_watch_subject(subject: str) -> tuple[str, str]:
    """`one.v1.<tenant>.watch.<name>` → (tenant, name)."""
    try:
        return parse_request_subject(subject, "watch")
    except SubjectError as error:
        raise InvalidRequestError(str(error)) from error


class WatchResponder:
    def __init__(
        self,
        client: NatsClient,
        watches: WatchService,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        progress: IngestProgress | None = None,
        admission: Admission | None = None,
    ) -> None:
        self._client = client
        registry = registry or CollectorRegistry()
        plain_inbox = settings.replies_to_plain_inbox
        self._guard = ReplyGuard(registry, "watch", plain_inbox=plain_inbox)
        self._deliver_to_guard = ReplyGuard(registry, "watch_deliver_to", plain_inbox=plain_inbox)
        # `after` on a watch: its first result waits for ingest (progress.py).
        self._progress = progress or IngestProgress(
            client.jetstream(timeout=settings.publish_ack_timeout_s), settings
        )
        self._watches = watches
        self._settings = settings
        self._admission = admission or replica_admission(settings)
        self._subscription: Subscription | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._subscription = await self._client.subscribe(
            WATCH_WILDCARD, self._settings.watch_queue_group, cb=self._arrived
        )

    async def stop(self, timeout_s: float) -> None:
        if self._subscription is not None:
            with contextlib.suppress(NatsError):
                await self._subscription.unsubscribe()
            self._subscription = None
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout_s)

    async def _arrived(self, msg: Msg) -> None:
        if not msg.reply or not self._guard.allows(request_tenant(msg.subject), msg.reply):
            return  # nobody to answer, or an answer there would be aimed by the asker
        try:
            tenant = parse_watch_subject(msg.subject)[0]
        except InvalidRequestError:
            await self._answer(msg)  # refused on the subject: no I/O
            return
        try:
            self._admission.enter(tenant)
        except OverloadedError as refused:
            await self._publish(msg, error_reply("timeout", str(refused), refused.details))
            return
        task = asyncio.create_task(self._answer(msg))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        task.add_done_callback(lambda _: self._admission.leave(tenant))

    async def _answer(self, msg: Msg) -> None:
        try:
            reply = ok_reply(await self._handle(msg))
        except WatchGoneError as error:
            reply = error_reply("not_found", f"no watch {error}", {"watchId": str(error)})
        except LimitExceededError as error:
            reply = error_reply("limit_exceeded", str(error))
        except Exception as error:
            reply = failure_reply(error, what="watch request", subject=msg.subject)
        if len(reply.body) > self._client.max_payload:
            reply = error_reply(
                "internal",
                "the result is larger than the server's max payload: ask for a smaller limit",
            )
        await self._publish(msg, reply)

    async def _handle(self, msg: Msg) -> Any:
        tenant, name = parse_watch_subject(msg.subject)
        if len(msg.data) > MAX_REQUEST_BYTES:
            raise InvalidRequestError(f"request larger than {MAX_REQUEST_BYTES} bytes")
        if name in (WATCH_RENEW, WATCH_STOP):
            control = WatchControl.model_validate_json(msg.data or b"{}")
            if name == WATCH_RENEW:
                lease_s = await self._watches.renew(tenant, control.watchId)
                return {"watchId": control.watchId, "leaseS": lease_s}
            await self._watches.stop_watch(tenant, control.watchId)
            return {"watchId": control.watchId, "stopped": True}
        model = WATCH_MODELS.get(name)
        if model is None:
            raise InvalidRequestError(f"{name!r} cannot be watched", {"known": _KNOWN})
        watch = model.model_validate_json(msg.data or b"{}")
        deliver_to: str = getattr(watch, "deliverTo")  # noqa: B009 (a field of the subclass)
        if not self._deliver_to_guard.allows(tenant, deliver_to):
            invalid = problem(["deliverTo"], "must be an inbox of the asking identity", "not_inbox")
            raise InvalidRequestError("deliverTo must be an inbox of your own", [invalid])
        fields = {field: getattr(watch, field) for field in watch.model_fields_set}
        fields.pop("deliverTo", None)
        # Read-your-writes for the first result only: later results follow the changes.
        after = fields.pop("after", None)
        deadline = deadline_in(request_budget_s(self._settings, msg))
        await wait_after(self._progress, tenant, after, deadline)
        request = WATCHABLE_MODELS[name].model_validate(fields)
        started = await self._watches.start_watch(
            tenant, name, request, deliver_to, asker_of(msg.reply, tenant)
        )
        return {
            "watchId": started.watch_id,
            "version": 1,
            "result": started.evaluation.result,
            "leaseS": started.lease_s,
        }

    async def _publish(self, msg: Msg, reply: Reply) -> None:
        try:
            await self._client.publish(msg.reply, reply.body, headers=reply.headers)
        except NatsError as error:
            log.debug("could not answer %s: %r", msg.subject, error)
