"""Three real nodes: national (000000), Guizhou (520000) and Chongqing (500000). The provinces follow only the
national node, which relays each province's facts to the other with their original signatures.

The nodes run for the whole module; each test uses its own people and cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import factories as f
from tests.federation.harness import Node, started_network, wait_for

GZ_H, CQ_H = "H52020100001", "H50010300001"  # an institution in each province
AT = "2025-06-15T10:00:00+08:00"


@pytest.fixture(scope="module")
def network() -> Iterator[dict[str, Node]]:
    with started_network("net", "520000", "500000") as nodes:
        guizhou, chongqing = nodes["520000"], nodes["500000"]
        for node, code, region in ((guizhou, GZ_H, "520201"), (chongqing, CQ_H, "500103")):
            data = node.op("RegisterInstitution", {"input": f.institution(code, region)})
            assert data["registerInstitution"]["userErrors"] == []
        yield nodes


def register(node: Node, code: str, serial: str) -> None:
    """A Guizhou doctor, registered at Guizhou's node."""
    data = node.op("RegisterPractitioner", {"input": f.practitioner(code, (GZ_H,), "520201", serial=serial)})
    assert data["registerPractitioner"]["userErrors"] == [], data


def eligibility(node: Node, code: str, institution: str | None = None) -> dict[str, Any]:
    variables = {"practitionerCode": code, "institutionCode": institution, "at": AT}
    return dict(node.op("Eligibility", variables)["eligibility"])


def degraded(node: Node, code: str) -> bool:
    query = "query($c: String!) { eligibility(practitionerCode: $c) { degraded } }"
    return bool(node.graphql(query, {"c": code})["eligibility"]["degraded"])


def status_everywhere(network: dict[str, Node], code: str, status: str) -> None:
    for node in network.values():
        wait_for(lambda n=node: eligibility(n, code)["status"] == status, what=f"{code} {status} at {node.region}")


def decide(node: Node, case: str, code: str, points: int, region: str, institution: str) -> dict[str, Any]:
    data = node.op("RecordDecision", {"input": f.decision(case, [(code, points)], "2025-06-01", region, institution)})
    assert data["recordDecision"]["userErrors"] == [], data
    return dict(data["recordDecision"])


def sanctions(node: Node, code: str) -> list[dict[str, Any]]:
    record = node.op("Practitioner", {"code": code, "year": 2025})["practitioner"]
    return sorted(record["sanctions"], key=lambda s: (s["kind"], s["caseNumber"]))


def test_a_decision_in_guizhou_makes_the_doctor_ineligible_in_chongqing(network: dict[str, Node]) -> None:
    guizhou, chongqing = network["520000"], network["500000"]
    register(guizhou, "D520201000101", "101")
    status_everywhere(network, "D520201000101", "NORMAL")  # the registration reached every node
    # The doctor also practises in Chongqing (多点执业): Chongqing's bureau records the affiliation.
    added = chongqing.op(
        "AddAffiliation",
        {"input": {"practitionerCode": "D520201000101", "institutionCode": CQ_H, "startsOn": "2025-01-01"}},
    )
    assert added["addAffiliation"]["userErrors"] == []
    assert eligibility(chongqing, "D520201000101", CQ_H)["eligible"] is True

    decide(guizhou, "黔医保罚〔2025〕101号", "D520201000101", 10, "520201", GZ_H)
    answer = wait_for(
        lambda: (a := eligibility(chongqing, "D520201000101", CQ_H))["status"] == "SUSPENDED" and a,
        timeout=15,
        what="the suspension to reach Chongqing",
    )
    assert answer["eligible"] is False and answer["sanction"]["caseNumber"] == "黔医保罚〔2025〕101号"
    # Chongqing verified Guizhou's own signature: it holds Guizhou's chain up to a checkpoint Guizhou signed.
    origins = {o["region"]: o for o in chongqing.status()["origins"]}
    assert origins["520000"]["checkpointSeq"] == origins["520000"]["seq"] >= 3
    assert all(p["state"] == "OK" for p in chongqing.status()["peers"])


def test_six_points_in_each_province_terminate_the_doctor_everywhere(network: dict[str, Node]) -> None:
    guizhou, chongqing = network["520000"], network["500000"]
    register(guizhou, "D520201000102", "102")
    status_everywhere(network, "D520201000102", "NORMAL")
    chongqing.op(
        "AddAffiliation",
        {"input": {"practitionerCode": "D520201000102", "institutionCode": CQ_H, "startsOn": "2025-01-01"}},
    )
    decide(guizhou, "GZ-102", "D520201000102", 6, "520201", GZ_H)
    decide(chongqing, "CQ-102", "D520201000102", 6, "500103", CQ_H)
    status_everywhere(network, "D520201000102", "TERMINATED")
    terminations = [s for s in sanctions(guizhou, "D520201000102") if s["kind"] == "TERMINATION"]
    assert [t["reregistrationAllowedFrom"] for t in terminations] == ["2026-06-01"]  # an accumulated 12: one year
    # Every node holds the same sanctions.
    wait_for(lambda: len({str(sanctions(n, "D520201000102")) for n in network.values()}) == 1, what="same rows")


def test_a_review_at_the_deciding_node_lifts_the_sanction_everywhere(network: dict[str, Node]) -> None:
    guizhou, chongqing = network["520000"], network["500000"]
    register(guizhou, "D520201000103", "103")
    decide(guizhou, "GZ-103", "D520201000103", 9, "520201", GZ_H)
    status_everywhere(network, "D520201000103", "SUSPENDED")
    review = {
        "caseNumber": "GZ-103",
        "regionCode": "520201",
        "practitionerCode": "D520201000103",
        "outcome": "REVOKED",
        "reviewedOn": "2025-07-01",
        "reason": "复核撤销",
    }
    refused = chongqing.op("ReviewPoints", {"input": review})["reviewPoints"]["userErrors"]
    assert [e["code"] for e in refused] == ["WRONG_NODE"]  # only the deciding node reviews its decision
    assert guizhou.op("ReviewPoints", {"input": review})["reviewPoints"]["userErrors"] == []
    status_everywhere(network, "D520201000103", "NORMAL")
    for node in network.values():
        assert [s["state"] for s in sanctions(node, "D520201000103")] == ["LIFTED"]


def test_a_barred_person_cannot_register_again_under_another_code_in_another_province(
    network: dict[str, Node],
) -> None:
    guizhou, chongqing = network["520000"], network["500000"]
    register(guizhou, "D520201000104", "104")
    decide(guizhou, "GZ-104", "D520201000104", 12, "520201", GZ_H)
    status_everywhere(network, "D520201000104", "TERMINATED")
    again = f.practitioner("D500103000104", (CQ_H,), "500103", registered_on="2025-08-01")
    again["idNumber"] = f.resident_id("520201", serial="104")  # the same person
    refused = chongqing.op("RegisterPractitioner", {"input": again})["registerPractitioner"]["userErrors"]
    assert [e["code"] for e in refused] == ["REREGISTRATION_BARRED"]
    assert "2028-06-01" in refused[0]["message"]  # 12 points in one decision: three years


def test_a_node_that_was_down_catches_up_with_nothing_lost(network: dict[str, Node]) -> None:
    national, guizhou, chongqing = network["000000"], network["520000"], network["500000"]
    chongqing.stop()
    # While Chongqing is down, the national node says so, and its answers say they may miss something.
    wait_for(lambda: national.peer("500000")["state"] == "UNREACHABLE", what="Chongqing UNREACHABLE")
    assert degraded(national, "D520201000101") is True
    codes = [f"D520201000{n}" for n in range(110, 115)]
    for n, code in enumerate(codes):
        register(guizhou, code, str(110 + n))
        decide(guizhou, f"GZ-{code}", code, 9 + n % 4, "520201", GZ_H)
    chongqing.start()
    for code in codes:
        wait_for(lambda c=code: eligibility(chongqing, c)["status"] != "NOT_REGISTERED", what=f"{code} at Chongqing")
    for code in codes:
        assert sanctions(chongqing, code) == sanctions(guizhou, code)
    origins = {o["region"]: o["seq"] for o in chongqing.status()["origins"]}
    assert origins == {o["region"]: o["seq"] for o in guizhou.status()["origins"]}
    wait_for(lambda: national.peer("500000")["state"] == "OK", what="Chongqing OK again")
    assert degraded(national, "D520201000101") is False
