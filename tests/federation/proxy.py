"""A real HTTP proxy between two nodes that can change one character of the envelopes it relays."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.processes import free_port


class TamperingProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.port = free_port()
        self.tamper = False
        self.tampered = 0
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-registry-")}
        async with httpx.AsyncClient() as http:
            upstream = await http.request(
                request.method,
                self.target + request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                content=await request.body(),
                headers=headers,
            )
        body = upstream.content
        if self.tamper and request.url.path.endswith("/feed") and upstream.status_code == 200:
            body = self._change_one_character(body)
        return Response(body, status_code=upstream.status_code, media_type=upstream.headers.get("content-type"))

    def _change_one_character(self, body: bytes) -> bytes:
        page: dict[str, Any] = orjson.loads(body)
        if not page["events"]:
            return body
        envelope = page["events"][0]["envelope"]
        i = envelope.index('"fact":') + len('"fact":') + 8  # inside the first fact
        page["events"][0]["envelope"] = envelope[:i] + ("A" if envelope[i] != "A" else "B") + envelope[i + 1 :]
        self.tampered += 1
        return orjson.dumps(page)

    def __enter__(self) -> TamperingProxy:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
