"""Which policy applies when a person is scored or checked outside their own province.

The emergency exception is the asking institution's region's to decide; a sanction's thresholds and default months
(and the policy version it names) are those of the bureau whose decision brought it.
"""

from __future__ import annotations

import pytest

from tests.conftest import Client
from tests.helpers import World

TIANJIN_H, BEIJING_H, DOCTOR = "H12010100001", "H11010100001", "D120101000001"


@pytest.fixture
async def world(client: Client) -> World:
    world = World(client)
    await world.institution(TIANJIN_H, "120101")
    await world.institution(BEIJING_H, "110101")
    await world.people(TIANJIN_H, "120101", DOCTOR)
    added = await client.op(
        "AddAffiliation",
        {"input": {"practitionerCode": DOCTOR, "institutionCode": BEIJING_H, "startsOn": "2025-01-01"}},
        token=world.national,
    )
    assert added["addAffiliation"]["userErrors"] == []
    return world


async def test_the_asking_institutions_region_decides_the_emergency_exception(world: World) -> None:
    terminated = await world.decide(
        case="津-12", entries=[(DOCTOR, 12)], decided_on="2025-03-01", region="120101", institution=TIANJIN_H
    )
    assert [s["kind"] for s in terminated["sanctions"]] == ["TERMINATION"]
    at = "2025-06-01T10:00:00+08:00"
    beijing = await world.eligibility(DOCTOR, at, institutionCode=BEIJING_H, emergency=True)
    tianjin = await world.eligibility(DOCTOR, at, institutionCode=TIANJIN_H, emergency=True)
    assert (beijing["status"], beijing["eligible"]) == ("TERMINATED", True)  # Beijing settles emergencies
    assert (tianjin["status"], tianjin["eligible"]) == ("TERMINATED", False)
    routine = await world.eligibility(DOCTOR, at, institutionCode=BEIJING_H, emergency=False)
    assert routine["eligible"] is False


async def test_a_sanction_follows_the_policy_of_the_bureau_that_decided_it(world: World) -> None:
    suspended = await world.decide(
        case="京-9", entries=[(DOCTOR, 9)], decided_on="2025-03-01", region="110101", institution=BEIJING_H
    )
    assert suspended["userErrors"] == []
    query = "query($code: String!) { practitioner(code: $code) { sanctions { kind policyVersion } } }"
    record = await world.client.gql(query, {"code": DOCTOR}, token=world.national)
    assert record["practitioner"]["sanctions"] == [{"kind": "SUSPENSION", "policyVersion": "beijing-2025.1"}]
