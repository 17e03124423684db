"""HTTP-level guards: every refusal at /graphql has the GraphQL error shape with a code, a body over the limit is
refused before it is read, and a database that is down answers 503.

    {"errors": [{"message": "…", "extensions": {"code": "UNAUTHENTICATED"}}]}
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from cross_web import HTTPException as ViewError
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from registry.api.schema import UNAVAILABLE_MESSAGE
from registry.db import is_unavailable
from registry.errors import Code
from registry.observability import ASGIApp, Message, Receive, Scope, Send

from .graphiql import GraphiQLRouter

log = structlog.get_logger("registry")

CODES = {
    400: Code.BAD_REQUEST,
    401: Code.UNAUTHENTICATED,
    413: Code.PAYLOAD_TOO_LARGE,
    429: Code.RATE_LIMITED,
    503: Code.UNAVAILABLE,
}


def error_body(status: int, message: str) -> dict[str, Any]:
    code = CODES.get(status, Code.BAD_REQUEST if status < 500 else "INTERNAL")
    return {"errors": [{"message": message, "extensions": {"code": str(code)}}]}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


class GraphQLEndpoint(GraphiQLRouter):
    """The GraphQL router, whose own refusals (a body that is not JSON, or not an object…) are coded JSON rather
    than strawberry's plain text."""

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().run(*args, **kwargs)
        except ViewError as exc:
            return error_response(exc.status_code, exc.reason)

    def parse_json(self, data: str | bytes) -> Any:
        value = super().parse_json(data)
        if not isinstance(value, dict):
            raise ViewError(400, 'the request body must be a JSON object: {"query": "…", "variables": {…}}')
        return value


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's refusals (a missing or refused token: 401) at /graphql, in the GraphQL error shape."""
    assert isinstance(exc, HTTPException)
    if request.url.path.rstrip("/") != "/graphql":
        return await http_exception_handler(request, exc)
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return error_response(exc.status_code, str(exc.detail), headers)


class _BodyTooLarge(Exception):
    pass


class HttpGuard:
    """ASGI middleware: a POST body over `max_body_bytes` is refused with 413 (at once when Content-Length says
    so, else as soon as the bytes received pass the limit), and a database that is down answers 503."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        too_large = f"the request body is over {limit} bytes (REGISTRY_MAX_BODY_BYTES); send fewer checks a request"
        if _declared_length(scope) > limit:
            await _send(send, 413, too_large)
            return
        received, started = 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _BodyTooLarge:
            if not started:
                await _send(send, 413, too_large)
        except Exception as exc:
            if not is_unavailable(exc) or started:
                raise
            log.error("database unavailable", reason=" ".join(str(exc).split())[:300])
            await _send(send, 503, UNAVAILABLE_MESSAGE, [(b"retry-after", b"5")])


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _send(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, max_body_bytes: int) -> None:
    """The guards of one app: call before the request observer is installed, so that it sees their answers."""
    app.add_middleware(HttpGuard, max_body_bytes=max_body_bytes)
    app.add_exception_handler(HTTPException, _http_error)
