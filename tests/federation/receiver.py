"""A real webhook receiver on 127.0.0.1: verifies Standard Webhooks signatures and records what arrived.

It runs `http.server` in a thread of the test process, so the node under test talks to it over a real socket.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.processes import free_port


class Receiver:
    """Answers 2xx to a correctly signed POST; `refuse` answers 500 to the next N; `delay` holds each answer."""

    def __init__(self, secret: str | bytes, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.refuse = 0
        self.delay = 0.0
        self.requests: list[str] = []  # the webhook-id of every POST, in arrival order, whatever the answer
        self.accepted: list[tuple[str, dict[str, Any], dict[str, str]]] = []  # (id, body, headers) answered 2xx
        self.bad_signatures: list[str] = []
        self.arrived = threading.Event()  # set by the first POST
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/sanctions"

    def accepted_ids(self) -> list[str]:
        with self._lock:
            return [webhook_id for webhook_id, _, _ in self.accepted]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(headers.get("webhook-id", ""))
                    receiver.arrived.set()
                    refuse = receiver.refuse > 0
                    receiver.refuse -= refuse
                if receiver.delay:
                    time.sleep(receiver.delay)
                if refuse:
                    return self._answer(500)
                try:
                    data = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver._lock:
                        receiver.bad_signatures.append(str(exc))
                    return self._answer(400)
                with receiver._lock:
                    receiver.accepted.append((headers["webhook-id"], data, headers))
                self._answer(204)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:  # the sender gave up waiting: it will retry
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = self._thread = None
