"""Pages that fail verification are applied to no part: the peer shows HALTED, and recovers from a true copy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation.harness import Node, fresh, wait_for
from tests.federation.proxy import TamperingProxy


@pytest.fixture
def nodes() -> Iterator[tuple[Node, Node]]:
    for name in ("tamper-national", "tamper-guizhou"):
        fresh(name)
    national = Node("000000", "tamper-national").start()
    guizhou = Node("520000", "tamper-guizhou").start()
    try:
        yield national, guizhou
    finally:
        guizhou.stop()
        national.stop()


def test_a_changed_byte_halts_the_peer_until_a_true_copy_arrives(nodes: tuple[Node, Node]) -> None:
    national, guizhou = nodes
    national.follow(guizhou)  # the national node publishes Guizhou's key: a signed fact in its feed
    with TamperingProxy(national.url) as proxy:
        proxy.tamper = True
        key = national.key()
        guizhou.cli("peer", "add", "--region", "000000", "--url", proxy.url, "--key", key["publicKey"])
        halted = wait_for(lambda: (p := guizhou.peer("000000"))["state"] == "HALTED" and p, what="HALTED")
        assert proxy.tampered >= 1
        assert halted["appliedSeq"] == 0 and halted["rejectedCount"] >= 1
        assert "not_canonical" in guizhou.log() or "bad_schema" in guizhou.log() or "broken_chain" in guizhou.log()
        proxy.tamper = False
        recovered = wait_for(lambda: (p := guizhou.peer("000000"))["state"] == "OK" and p, what="recovery")
        assert recovered["appliedSeq"] >= 1


def test_a_peer_that_signs_for_a_region_it_was_not_given_is_refused(nodes: tuple[Node, Node]) -> None:
    national, guizhou = nodes
    # The operator of the national node registered Guizhou's node as 530000 (Yunnan).
    key = guizhou.key()
    national.cli("peer", "add", "--region", "530000", "--url", guizhou.url, "--key", key["publicKey"])
    guizhou.follow(national)
    peer = wait_for(lambda: (p := national.peer("530000"))["state"] == "HALTED" and p, what="HALTED")
    assert peer["appliedSeq"] == 0
