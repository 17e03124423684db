"""The fast path: the contract's `Eligibility` and `Eligibilities`, answered without strawberry.

An ASGI middleware in front of the GraphQL route. For a POST to /graphql whose document is one the contract's
(`documents`, by SHA-256: the text sent, or `extensions.persistedQuery.sha256Hash`), it reads the variables with
the standard library, checks the token and the role as the general path does, runs the one SQL statement of
`service.check` on the read pool, and writes the answer with orjson: the bytes the general path would write.

It answers only what it knows the general path would answer the same way: a successful check (spending the
token's rate budget and writing the disclosure row as the general path does). Everything else (another document, a
variable of the wrong type or an unusual date form, a code or moment the general path refuses, too many checks, a
missing or bad token, a role that may not check, an empty rate budget, a failing database) goes on, untouched, to
strawberry, which answers it as it always has.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson
import structlog
from prometheus_client import Counter
from starlette.requests import Request

from registry import access, clock
from registry.api import mapping
from registry.api.limits import RateLimiter, token_key
from registry.auth import Actor
from registry.db import Database
from registry.disclosures import DisclosureKind, DisclosureLog
from registry.eligibility import service
from registry.eligibility.documents import Document, sha256
from registry.eligibility.moments import parse_common
from registry.observability import current_request, observe_eligibility
from registry.points.policy import PolicyBook

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authenticate = Callable[[Request], Awaitable[Actor]]

log = structlog.get_logger("registry")
FAST = Counter("registry_graphql_fast_path_requests", "GraphQL requests answered by the fast path", ["operation"])
CHECK_FIELDS = frozenset({"practitionerCode", "institutionCode", "at", "emergency"})


PERSISTED_QUERY_NOT_FOUND = orjson.dumps(
    {"errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
)


@dataclass(frozen=True)
class Reply:
    body: bytes
    operation: str | None  # None: no operation ran
    outcome: str  # "ok", "user_error" or "error", as the request's log line says it
    singles: int = 0
    batches: tuple[int, ...] = ()


class FastPath:
    """ASGI middleware; everything it does not answer goes to `app` with the request body as it came."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        db: Database,
        policies: PolicyBook,
        documents: dict[str, Document],
        authenticate: Authenticate,
        max_batch_checks: int,
        max_body_bytes: int,
        rate_limiter: RateLimiter,
        disclosures: DisclosureLog,
    ) -> None:
        self.app = app
        self.db, self.policies, self.documents = db, policies, documents
        self.authenticate = authenticate
        self.max_batch_checks, self.max_body_bytes = max_batch_checks, max_body_bytes
        self.rate_limiter, self.disclosures = rate_limiter, disclosures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive, self.max_body_bytes)
        request = _request(body) if complete and _is_json(scope) else None
        reply = None
        if request is not None:
            reply, body = await self._handle(scope, request, body)
        if reply is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        if reply.operation is not None:
            FAST.labels(reply.operation).inc()
        _observe(reply)
        # The headers Starlette writes for the general path's answer, in its order.
        headers = [(b"content-length", str(len(reply.body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _handle(self, scope: Scope, request: dict[str, Any], body: bytes) -> tuple[Reply | None, bytes]:
        """The reply, or None and the body to hand on (with the query's text filled in for a persisted query)."""
        query = request.get("query")
        if isinstance(query, str):
            document = self.documents.get(sha256(query))
            return (None if document is None else await self._answer(scope, request, document)), body
        digest = _persisted_hash(request) if query is None else None
        if digest is None:
            return None, body
        document = self.documents.get(digest)
        if document is None:
            # Apollo's protocol: the client sends the document itself next. Only the contract's are known.
            return Reply(PERSISTED_QUERY_NOT_FOUND, None, "user_error"), body
        reply = await self._answer(scope, request, document)
        return reply, body if reply is not None else _with_query(request, document.text)

    async def _answer(self, scope: Scope, request: dict[str, Any], document: Document) -> Reply | None:
        variables = request.get("variables")
        extensions = request.get("extensions")
        if not isinstance(variables, dict | None) or not isinstance(extensions, dict | None):
            return None
        operation = document.operation(request.get("operationName"))
        if operation is None:
            return None
        variables = variables or {}
        moments = _Moments(clock.now())
        if operation.batch:
            items = variables.get("checks")
            asked = _checks(items, moments) if isinstance(items, list) else None
        else:
            one = _check(variables, moments)
            asked = None if one is None else [one]
        if asked is None:
            return None
        checks = [check for check, _ in asked]
        if len(checks) > self.max_batch_checks or any(m.refused for _, m in asked) or any(map(_refused, checks)):
            return None  # the general path says why, in its own words (INVALID_INPUT, TOO_MANY_CHECKS)
        http = Request(scope)
        try:
            actor = await self.authenticate(http)
        except Exception:
            return None  # the general path says why (401), in its own words
        if access.check_eligibility(actor) is not None:
            return None
        # The token's budget, last (a request handed on after spending it would pay twice); an empty bucket is
        # the general path's to refuse (429 RATE_LIMITED), and a refusal spends nothing.
        if self.rate_limiter.spend(token_key(http.headers.get("authorization", "")), max(1, len(checks))):
            return None
        _identify(actor)
        try:
            answers = await service.check(self.db, self.policies, checks, [m.day for _, m in asked])
        except Exception:
            # The general path knows what to say (503 UNAVAILABLE for a database that is down, with the error's
            # path, else the masked INTERNAL error) and says it, having met the same failure. (It spends the budget
            # again: rarely.)
            return None
        kind = DisclosureKind.ELIGIBILITIES if operation.batch else DisclosureKind.ELIGIBILITY
        await self.disclosures.record(actor, kind, [check.practitioner_code for check in checks])
        if operation.batch:
            rows = [_row(a, m.written) for a, (_, m) in zip(answers, asked, strict=True)]
            return Reply(_encode({"data": {"eligibilities": rows}}), operation.name, "ok", batches=(len(rows),))
        return Reply(
            _encode({"data": {"eligibility": _single(answers[0], asked[0][1].written)}}),
            operation.name,
            "ok",
            singles=1,
        )


# --- the request ------------------------------------------------------------------------------------------------


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it is whole: past `limit` bytes the rest is left unread, for the general path."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A `receive` that hands over what was read, then the rest of the request as it comes."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


def _request(body: bytes) -> dict[str, Any] | None:
    """The JSON request; None for what orjson refuses (strict JSON, UTF-8), which the general path then reads."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return request if isinstance(request, dict) else None


def _persisted_hash(request: dict[str, Any]) -> str | None:
    """`extensions.persistedQuery.sha256Hash` (Apollo's automatic persisted queries), when sent."""
    extensions = request.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    return digest if isinstance(digest, str) else None


def _with_query(request: dict[str, Any], text: str) -> bytes:
    return json.dumps({**request, "query": text}).encode()


class _Moment(NamedTuple):
    at: datetime
    written: str  # as the answer writes it
    day: date  # in China
    refused: bool  # out of the registry's calendar: the general path's INVALID_INPUT


class _Moments:
    """The moments of one request: each distinct `at` parsed, written back and checked once (a claims batch repeats
    a few moments); `now` for a check without one."""

    def __init__(self, now: datetime) -> None:
        self.now = _moment(now)
        self.seen: dict[str, _Moment | None] = {}

    def get(self, at: object) -> _Moment | None:
        if at is None:
            return self.now
        if type(at) is not str:
            return None
        if at not in self.seen:
            parsed = parse_common(at)
            self.seen[at] = None if parsed is None else _moment(parsed)
        return self.seen[at]


def _moment(at: datetime) -> _Moment:
    refused = mapping.moment(at) is not None
    return _Moment(at, at.isoformat(), date.min if refused else clock.cst_date(at), refused)


def _refused(check: service.Check) -> bool:
    """A code the general path refuses as INVALID_INPUT (too long, or a control character)."""
    return _odd_code(check.practitioner_code) or (
        check.institution_code is not None and _odd_code(check.institution_code)
    )


def _odd_code(code: str) -> bool:
    # Printable ASCII of a code's length is what nearly every code is, and mapping.code accepts it.
    if len(code) <= mapping.MAX_CODE and code.isascii() and code.isprintable():
        return False
    return mapping.code(code) is not None


def _check(values: dict[str, Any], moments: _Moments) -> tuple[service.Check, _Moment] | None:
    """A check from its variables, exactly as GraphQL would coerce them, and its moment; None at the first doubt."""
    code = values.get("practitionerCode")
    institution = values.get("institutionCode")
    emergency = values.get("emergency")
    if type(code) is not str or not (institution is None or type(institution) is str):
        return None
    if not (emergency is None or type(emergency) is bool):
        return None
    moment = moments.get(values.get("at"))
    if moment is None:
        return None
    return service.Check(code, institution, moment.at, bool(emergency)), moment


def _checks(items: list[Any], moments: _Moments) -> list[tuple[service.Check, _Moment]] | None:
    checks = []
    for item in items:
        if type(item) is not dict or not CHECK_FIELDS.issuperset(item):
            return None
        check = _check(item, moments)
        if check is None:
            return None
        checks.append(check)
    return checks


# --- the answer -------------------------------------------------------------------------------------------------


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _row(a: service.Answer, at: str) -> dict[str, Any]:
    """An `Eligibilities` answer: the fields the contract selects, in its order (enums by their values, which are
    their GraphQL names)."""
    c = a.check
    return {
        "practitionerCode": c.practitioner_code,
        "institutionCode": c.institution_code,
        "at": at,
        "eligible": a.eligible,
        "status": a.status,
        "affiliated": a.affiliated,
        "eligibleAgainOn": _iso(a.eligible_again_on),
    }


def _single(a: service.Answer, at: str) -> dict[str, Any]:
    """An `Eligibility` answer: the batch's fields and the sanction in force."""
    s = a.sanction
    sanction = None
    if s is not None:
        sanction = {
            "kind": s.kind,
            "state": s.state,
            "startsOn": s.starts_on.isoformat(),
            "endsOn": _iso(s.ends_on),
            "reregistrationAllowedFrom": _iso(s.reregistration_allowed_from),
            "caseNumber": s.case_number,
            "regionCode": s.region_code,
        }
    return {**_row(a, at), "sanction": sanction}


def _encode(payload: dict[str, Any]) -> bytes:
    """The general path writes `json.dumps(..., separators=(",", ":"))`, non-ASCII escaped: orjson writes the same
    bytes for ASCII text but for DEL, so any other text is written the general path's way."""
    try:
        body = orjson.dumps(payload)
    except orjson.JSONEncodeError:
        body = b"\x80"
    if body.isascii() and b"\x7f" not in body:
        return body
    return json.dumps(payload, separators=(",", ":")).encode()


# --- what the request's log line and metrics learn ------------------------------------------------------------


def _identify(actor: Actor) -> None:
    record = current_request()
    if record is not None:
        record.role = str(actor.role)
        record.region = actor.region


def _observe(reply: Reply) -> None:
    """The request's record as the general path leaves it: the observer writes the log line and the metrics."""
    record = current_request()
    if record is None:
        observe_eligibility(reply.singles, list(reply.batches))
        return
    record.executed = reply.operation is not None
    record.operation = reply.operation
    record.outcome = "ok" if reply.outcome == "ok" else "user_error"
    record.internal_error = reply.outcome == "error"
    record.singles += reply.singles
    record.batches.extend(reply.batches)
