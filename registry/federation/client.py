"""Calling peers: signed pulls of their feed and signed wake-ups. Transport failures (refused connections,
time-outs, 5xx) are `Unreachable`; any other answer that is not a page is returned for the inbox to refuse."""

from __future__ import annotations

import contextlib
import time

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.federation import envelope
from registry.federation.routes import REGION, SIGNATURE, TIME

MAX_PAGE_BYTES = 16 * 1024 * 1024
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class Unreachable(Exception):
    """The peer could not be reached, or failed (5xx): a transport problem, not a bad page."""


class NotAPage(Exception):
    """The peer answered, but not with a page (4xx, oversized): refused like a page that fails verification."""


class PeerClient:
    def __init__(self, region: str, private_key: Ed25519PrivateKey, http: httpx.AsyncClient | None = None) -> None:
        self.region = region
        self._key = private_key
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT)

    def _headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        stamp = int(time.time())
        signature = envelope.sign_request(
            self._key, region=self.region, timestamp=stamp, method=method, path_and_query=target, body=body
        )
        return {REGION: self.region, TIME: str(stamp), SIGNATURE: signature}

    async def fetch_page(self, base_url: str, after: int, limit: int) -> bytes:
        target = f"/federation/feed?after={after}&limit={limit}"
        try:
            async with self._http.stream(
                "GET", base_url.rstrip("/") + target, headers=self._headers("GET", target, b"")
            ) as response:
                if response.status_code >= 500:
                    raise Unreachable(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise NotAPage(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_PAGE_BYTES:
                        raise NotAPage(f"page larger than {MAX_PAGE_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc

    async def push(self, base_url: str, head: int) -> None:
        """Wake a peer; failures are ignored (it pulls on its own schedule anyway)."""
        body = orjson.dumps({"region": self.region, "head": head})
        with contextlib.suppress(httpx.HTTPError):
            await self._http.post(
                base_url.rstrip("/") + "/federation/push",
                content=body,
                headers={**self._headers("POST", "/federation/push", body), "Content-Type": "application/json"},
                timeout=httpx.Timeout(3.0),
            )

    async def aclose(self) -> None:
        await self._http.aclose()
