"""Joining nodes: peers, keys learned from the national node, signed pulls, and who may read a feed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.federation.harness import Node, fresh, wait_for


@pytest.fixture
def pair() -> Iterator[tuple[Node, Node]]:
    for name in ("join-national", "join-guizhou"):
        fresh(name)
    national = Node("000000", "join-national").start()
    guizhou = Node("520000", "join-guizhou").start()
    try:
        yield national, guizhou
    finally:
        guizhou.stop()
        national.stop()


def test_a_province_follows_the_national_node(pair: tuple[Node, Node]) -> None:
    national, guizhou = pair
    # The national node is told first, so that it answers Guizhou's first pull.
    assert "added" in national.follow(guizhou)
    assert "added" in guizhou.follow(national)
    # The national node published Guizhou's key as a signed fact; Guizhou pulled and verified it.
    peer = wait_for(lambda: (p := guizhou.peer("000000"))["appliedSeq"] >= 1 and p, what="guizhou to apply a page")
    assert peer["state"] == "OK" and peer["rejectedCount"] == 0
    assert wait_for(lambda: national.peer("520000")["acknowledgedSeq"] >= 1, what="national to see the ack")
    assert national.status()["region"] == "000000" and national.status()["publicKey"] == national.key()["publicKey"]
    # Adding the same peer again changes nothing; another URL replaces it and says so.
    assert "unchanged" in guizhou.follow(national)


def test_the_feed_answers_only_known_peers(pair: tuple[Node, Node]) -> None:
    national, _ = pair
    unsigned = httpx.get(f"{national.url}/federation/feed?after=0")
    assert unsigned.status_code == 401
    assert unsigned.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "events" not in unsigned.text
