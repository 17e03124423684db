"""HTTP routes peers call: the feed (pull) and the wake-up (push). Both answer only requests signed by a known
peer's node key; anyone else gets 401 and learns nothing (the feed carries names and identity digests)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select, text, update

from registry import clock
from registry.db import Database
from registry.federation import envelope, feed
from registry.federation.keys import parse_public_key
from registry.federation.models import Peer

WAKE_CHANNEL = "registry_wake"  # NOTIFY with a peer's region: pull it now
REGION, TIME, SIGNATURE = "X-Registry-Node", "X-Registry-Time", "X-Registry-Signature"


def _error(status: int, code: str, message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class Unauthenticated(Exception):
    pass


async def authenticate(db: Database, request: Request, body: bytes) -> str:
    """The region of the peer that signed this request, or Unauthenticated."""
    region, stamp, signature = (request.headers.get(h) for h in (REGION, TIME, SIGNATURE))
    if not (region and stamp and signature):
        raise Unauthenticated("sign the request with your node key")
    async with db.reader() as conn:
        key = await conn.scalar(select(Peer.public_key).where(Peer.region == region))
    if key is None:
        raise Unauthenticated("unknown peer")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        envelope.verify_request(
            parse_public_key(key),
            region=region,
            timestamp=int(stamp),
            method=request.method,
            path_and_query=target,
            body=body,
            signature=signature,
            now=int(clock.now().timestamp()),
        )
    except (envelope.EnvelopeError, ValueError) as exc:
        raise Unauthenticated("bad signature") from exc
    return region


def make_router(db: Database, region: str) -> APIRouter:
    router = APIRouter(prefix="/federation")

    @router.get("/feed")
    async def read_feed(request: Request, after: int = 0, limit: int = feed.DEFAULT_LIMIT) -> Response:
        try:
            peer = await authenticate(db, request, b"")
        except Unauthenticated as exc:
            return _error(401, "UNAUTHENTICATED", str(exc))
        if after < 0 or not 1 <= limit <= feed.MAX_LIMIT:
            return _error(400, "INVALID_INPUT", f"after >= 0 and 1 <= limit <= {feed.MAX_LIMIT}")
        async with db.transaction() as session:
            await feed.acknowledge(session, peer, after, clock.now())
            page = await feed.read_page(session, region=region, after=after, limit=limit)
        return Response(orjson.dumps(page.to_json()), media_type="application/json")

    @router.post("/push")
    async def push(request: Request) -> Response:
        body = await request.body()
        try:
            peer = await authenticate(db, request, body)
        except Unauthenticated as exc:
            return _error(401, "UNAUTHENTICATED", str(exc))
        try:
            head = int(orjson.loads(body)["head"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return _error(400, "INVALID_INPUT", 'send {"region": …, "head": position}')
        async with db.transaction() as session:
            await session.execute(
                update(Peer).where(Peer.region == peer).values(last_seq=func.greatest(Peer.last_seq, head))
            )
            await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": WAKE_CHANNEL, "p": peer})
        return Response(status_code=202)

    return router
