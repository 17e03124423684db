"""What operators and strangers meet: `peer add` mistakes change nothing; an unknown signer learns nothing; a page
that is not a page (not JSON, too large, another shape) is refused, applied to no part, and the node keeps serving;
a regulator that was down gets every change once it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.requests import Request
from starlette.responses import Response

from registry.federation import envelope
from registry.federation.keys import public_key_b64
from tests import factories as f
from tests.federation.harness import Node, started_network, wait_for
from tests.federation.proxy import TamperingProxy
from tests.federation.receiver import Receiver

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Node, Node]]:
    with started_network("ops", "520000") as nodes:
        yield nodes["000000"], nodes["520000"]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--region", "52", "--url", "http://127.0.0.1:1", "--key", "x"], "not a node region"),
        (["--region", "520100", "--url", "http://127.0.0.1:1"], "not a node region"),
        (["--region", "530000", "--url", "ftp://host", "--key", "AAAA"], "is not an http(s) URL"),
        (["--region", "530000", "--url", "http://127.0.0.1:1", "--key", "bm90IGEga2V5"], "--key"),
    ],
)
def test_a_malformed_peer_is_refused_in_one_line_and_changes_nothing(
    pair: tuple[Node, Node], flags: list[str], said: str
) -> None:
    national, _ = pair
    before = national.cli("peer", "list").stdout
    if "--key" not in flags:
        flags = [*flags, "--key", national.key()["publicKey"]]
    done = national.cli("peer", "add", *flags, check=False)
    assert done.returncode != 0 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert national.cli("peer", "list").stdout == before


def test_a_request_signed_by_an_unknown_key_gets_401_and_nothing_else(pair: tuple[Node, Node]) -> None:
    national, _ = pair
    stranger = Ed25519PrivateKey.generate()
    target = "/federation/feed?after=0&limit=10"
    for region in ("520000", "530000"):  # a known region with the wrong key, and an unknown one
        stamp = int(time.time())
        signature = envelope.sign_request(stranger, region, stamp, "GET", target, b"")
        headers = {"X-Registry-Node": region, "X-Registry-Time": str(stamp), "X-Registry-Signature": signature}
        answer = httpx.get(national.url + target, headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {
            "errors": [{"message": answer.json()["errors"][0]["message"], "extensions": {"code": "UNAUTHENTICATED"}}]
        }
        assert "envelope" not in answer.text
    assert public_key_b64(stranger) not in national.cli("peer", "list").stdout


class BrokenPeer(TamperingProxy):
    """A peer whose feed answers with something that is not a page."""

    def __init__(self, target: str, body: bytes) -> None:
        super().__init__(target)
        self.body = body

    async def _forward(self, request: Request) -> Response:
        if request.url.path.endswith("/feed"):
            self.tampered += 1
            return Response(self.body, media_type="application/json")
        return await super()._forward(request)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        orjson.dumps({"region": "000000", "head": 1, "events": "everything", "checkpoints": []}),
        orjson.dumps({"region": "000000", "head": 1, "events": [], "checkpoints": [], "more": 1}),
        b'{"region": "000000", "head": 1, "events": [], "checkpoints": ["' + b"x" * (17 * 1024 * 1024) + b'"]}',
    ],
    ids=["not-json", "wrong-shape", "extra-field", "oversized"],
)
def test_a_page_that_is_not_a_page_halts_the_peer_and_the_node_keeps_serving(
    pair: tuple[Node, Node], body: bytes
) -> None:
    national, guizhou = pair
    key = national.key()["publicKey"]
    with BrokenPeer(national.url, body) as broken:
        guizhou.cli("peer", "add", "--region", "000000", "--url", broken.url, "--key", key)
        peer = wait_for(lambda: (p := guizhou.peer("000000"))["state"] == "HALTED" and p, what="HALTED")
        assert broken.tampered >= 1
        rejected = peer["rejectedCount"]
        assert guizhou.op("Eligibility", {"practitionerCode": "D520201000001"})["eligibility"]["status"]  # serving
    guizhou.cli("peer", "add", "--region", "000000", "--url", national.url, "--key", key)
    recovered = wait_for(lambda: (p := guizhou.peer("000000"))["state"] == "OK" and p, what="recovery")
    assert recovered["rejectedCount"] >= rejected


def test_a_regulator_that_was_down_gets_every_change_once(pair: tuple[Node, Node]) -> None:
    _, guizhou = pair
    receiver = Receiver(SECRET)  # not listening yet: the regulator is down
    guizhou.cli(
        "regulator", "add", "--name", "卫健委", "--url", receiver.url, "--secret", SECRET, "--categories", "PHYSICIAN"
    )
    guizhou.op("RegisterInstitution", {"input": f.institution("H52020100077", "520201")})
    for n in range(3):
        code = f"D52020100077{n}"
        person = f.practitioner(code, ("H52020100077",), "520201", serial=f"77{n}")
        assert guizhou.op("RegisterPractitioner", {"input": person})["registerPractitioner"]["userErrors"] == []
        decision = f.decision(f"REG-{n}", [(code, 12)], "2025-06-01", "520201", "H52020100077")
        assert guizhou.op("RecordDecision", {"input": decision})["recordDecision"]["userErrors"] == []
    regulators = wait_for(lambda: (r := guizhou.status()["regulators"]) and r[0]["pending"] == 3 and r, what="backlog")
    assert regulators[0]["lastDeliveredAt"] is None
    metrics = httpx.get(f"{guizhou.url}/metrics").text
    assert 'registry_regulator_pending{regulator="卫健委"} 3.0' in metrics
    assert 'registry_peer_silence_seconds{peer="000000"}' in metrics
    receiver.start()
    try:
        wait_for(lambda: len(receiver.accepted_ids()) == 3, timeout=40, what="the three changes delivered")
        time.sleep(1)  # nothing more arrives
        assert len(receiver.accepted_ids()) == len(set(receiver.accepted_ids())) == 3
        assert receiver.bad_signatures == []
        types = sorted(body["type"] for _, body, _ in receiver.accepted)
        assert types == ["sanction.imposed"] * 3
        status = wait_for(lambda: (r := guizhou.status()["regulators"][0])["pending"] == 0 and r, what="no backlog")
        assert status["lastDeliveredAt"] is not None and status["failed"] == 0
    finally:
        receiver.stop()
