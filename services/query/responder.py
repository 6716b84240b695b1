"""The query responder: one NATS micro endpoint per query, in a queue group.

Each query name is an endpoint on `one.v1.*.query.<name>` (any tenant). One subscription
to `one.v1.*.query.>` in the queue group `query_queue_group` takes them all, so replicas
share the requests, each is answered once, and the server delivers each request once
(a subscription per endpoint beside a catch-all would receive every request twice); the
name picks the endpoint, and an unknown name is answered `invalid_request` at once.

Overload is answered, not queued: a request's deadline runs from the moment it arrives
(the shorter of `query_timeout_s` and the requester's own `One-Timeout-Ms`), a request
still waiting for a store slot when it passes is answered `timeout` without reading the
store, and a request beyond its tenant's `max_concurrent_queries` in hand, or beyond the
replica's `query_max_pending`, is answered `timeout` (`details.reason: "overloaded"`) at
once (admission.py: the watch responder shares the count). That is why the endpoints are
plain nats-py subscriptions whose callback only notes the arrival and starts the work: a
subscriber that queues messages until a worker is free (FastStream's, nats.micro's) starts
the clock when the work starts, and keeps working for requesters that gave up long ago.

Discovery (micro.py) completes the service: `$SRV.PING|INFO|STATS[.<name>[.<id>]]`,
without a queue group, so every replica answers for itself.

Every answer passes the reply guard first (services/security/reply_guard.py): a query's
only to its tenant's own inbox, discovery's only to a service identity's (or, in open
`dev`, a plain) inbox: `$SRV` requests carry no tenant, and in the secure layout only
the operator may send them.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from contracts.subjects import (
    QUERY_WILDCARD,
    SubjectError,
    parse_request_subject,
    request_tenant,
)
from services.query.admission import Admission, FairSlots, OverloadedError, replica_admission
from services.query.deadline import request_budget_s
from services.query.dispatcher import QueryDispatcher
from services.query.metrics import QueryMetrics
from services.query.micro import Endpoint, MicroService
from services.query.progress import IngestProgress
from services.query.replies import Reply, error_reply
from services.query.routes import ROUTES
from services.security.reply_guard import ReplyGuard
from services.settings import Settings
from services.store.port import StoreReads
from services.tracing import context_of, tracer

log = logging.getLogger(__name__)


def _within(reply: Reply, max_payload: int) -> Reply:
    if len(reply.body) <= max_payload:
        return reply
    return error_reply(
        "internal",
        f"the reply is larger than the server's max payload ({max_payload} bytes): "
        "ask for a smaller limit",
    )


class QueryResponder:
    def __init__(
        self,
        client: NatsClient,
        store: StoreReads,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        progress: IngestProgress | None = None,
        admission: Admission | None = None,
    ) -> None:
        self._client = client
        registry = registry or CollectorRegistry()
        self._metrics = QueryMetrics(registry)
        plain_inbox = settings.replies_to_plain_inbox
        self._guard = ReplyGuard(registry, "query", plain_inbox=plain_inbox)
        # Discovery has no tenant: only service identities' inboxes (plain ones in `dev`).
        self._discovery_guard = ReplyGuard(registry, "discovery", plain_inbox=plain_inbox)
        self._settings = settings
        self.admission = admission or replica_admission(settings)
        # Shared with the watch responder when the service passes one (its reads coalesce).
        progress = progress or IngestProgress(
            client.jetstream(timeout=settings.publish_ack_timeout_s), settings
        )
        self._dispatcher = QueryDispatcher(store, settings, progress)
        self.micro = MicroService(ROUTES, settings.query_queue_group)
        self._endpoints = {endpoint.query: endpoint for endpoint in self.micro.endpoints}
        self._subscriptions: list[Subscription] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def store_slots(self) -> FairSlots:
        return self._dispatcher.store_slots

    async def start(self) -> None:
        await self._subscribe(QUERY_WILDCARD, self._settings.query_queue_group, self._arrived)
        for verb, subject in self.micro.control_subjects():

            async def discover(msg: Msg, verb: Any = verb) -> None:
                if not msg.reply or not self._discovery_guard.allows("", msg.reply):
                    return
                body = self.micro.answer(verb)
                await self._publish(msg, Reply(body, {"content-type": "application/json"}))

            await self._subscribe(subject, "", discover)

    async def stop(self, timeout_s: float) -> None:
        """Take no more requests; answer the ones in hand (within `timeout_s`)."""
        for subscription in self._subscriptions:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()
        self._subscriptions.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=timeout_s)
        await self._dispatcher.drain(max(0.0, deadline - loop.time()))

    async def _subscribe(
        self, subject: str, queue: str, callback: Callable[[Msg], Awaitable[None]]
    ) -> None:
        self._subscriptions.append(await self._client.subscribe(subject, queue, cb=callback))

    async def _arrived(self, msg: Msg) -> None:
        if not msg.reply:
            return  # a publish, not a request: nobody to answer
        if not self._guard.allows(request_tenant(msg.subject), msg.reply):
            return  # an answer there would be the service's, aimed by the asker
        try:
            tenant, name = parse_request_subject(msg.subject, "query")
            endpoint = self._endpoints.get(name)
        except SubjectError:
            endpoint = None
        if endpoint is None:
            # Refused on the name, before the body is looked at: no I/O, on no endpoint.
            await self._publish(msg, await self._dispatcher.dispatch(msg.subject, msg.data))
            return
        arrived_at = asyncio.get_running_loop().time()
        try:
            self.admission.enter(tenant)
        except OverloadedError as refused:
            reply = error_reply("timeout", str(refused), refused.details)
            self._record(endpoint, arrived_at, reply)
            await self._publish(msg, reply)
            return
        task = asyncio.create_task(self._answer(endpoint, msg, arrived_at))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        task.add_done_callback(lambda _: self.admission.leave(tenant))

    async def _answer(self, endpoint: Endpoint, msg: Msg, arrived_at: float) -> None:
        budget = request_budget_s(self._settings, msg)
        with tracer.start_as_current_span(
            f"query {endpoint.query}", context=context_of(msg.headers), kind=SpanKind.SERVER
        ) as span:
            reply = await self._dispatcher.dispatch(msg.subject, msg.data, arrived_at + budget)
            reply = _within(reply, self._client.max_payload)
            span.set_attribute("one.query.outcome", reply.outcome)
        self._record(endpoint, arrived_at, reply)
        await self._publish(msg, reply)

    def _record(self, endpoint: Endpoint, arrived_at: float, reply: Reply) -> None:
        elapsed_s = asyncio.get_running_loop().time() - arrived_at
        self.micro.record(endpoint.query, int(elapsed_s * 1e9), reply.error)
        self._metrics.seconds.labels(endpoint.query, reply.outcome).observe(elapsed_s)

    async def _publish(self, msg: Msg, reply: Reply) -> None:
        try:
            await self._client.publish(msg.reply, reply.body, headers=reply.headers)
        except NatsError as error:
            # The connection is gone: the requester times out, as it would anyway.
            log.debug("could not answer %s: %r", msg.subject, error)
