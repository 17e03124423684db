"""Points over GraphQL: the worked examples of the domain, reviews, objections, restorations, emergencies."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.conftest import Client
from tests.helpers import World, brief, sanction


@pytest.fixture
def world(client: Client) -> World:
    return World(client)


async def test_village_doctor_twelve_points_at_once_is_terminated_and_barred_three_years(world: World) -> None:
    await world.institution("H52032100001", "520321")
    await world.people("H52032100001", "520321", "D520321000001")
    result = await world.decide(
        case="黔医保罚〔2025〕1号",
        entries=[("D520321000001", 12)],
        decided_on="2025-03-10",
        region="520321",
        institution="H52032100001",
    )
    assert result["userErrors"] == []
    expected = sanction(
        "D520321000001", "TERMINATION", "VALID", "2025-03-10", None, "2028-03-10", "黔医保罚〔2025〕1号"
    )
    assert brief(result["sanctions"]) == [expected]
    answer = await world.eligibility("D520321000001", "2025-06-03T09:00:00+08:00", institutionCode="H52032100001")
    assert (answer["eligible"], answer["status"], answer["eligibleAgainOn"]) == (False, "TERMINATED", None)
    assert answer["sanction"]["reregistrationAllowedFrom"] == "2028-03-10"
    emergency = await world.eligibility("D520321000001", "2025-06-03T09:00:00+08:00", emergency=True)
    assert emergency["eligible"] is False  # the national policy exempts emergencies during suspension only
    record = await world.record("D520321000001", 2025)
    assert (record["status"], record["points"]) == ("TERMINATED", 12)
    # Re-registration is barred until the bar ends, under the same code or under another code for the same person.
    again = f.practitioner("D520321000001", ("H52032100001",), "520321", registered_on="2026-04-01", serial="000")
    other_code = {**again, "code": "D520321000099"}
    for person in (again, other_code):
        data = await world.client.op("RegisterPractitioner", {"input": person}, token=world.national)
        assert [e["code"] for e in data["registerPractitioner"]["userErrors"]] == ["REREGISTRATION_BARRED"]


async def test_inner_mongolia_imaging_reports(world: World) -> None:
    await world.institution("H15010200001", "150102")
    terminated = [f"D15010200000{i}" for i in range(1, 7)]
    suspended = ["D150102000007", "D150102000008"]
    await world.people("H15010200001", "150102", *terminated, *suspended)
    result = await world.decide(
        case="内医保罚〔2025〕8号",
        entries=[*((c, 12) for c in terminated), *((c, 10) for c in suspended)],
        decided_on="2025-04-15",
        region="150102",
        institution="H15010200001",
    )
    assert result["userErrors"] == []
    assert brief(result["sanctions"]) == [
        *(
            sanction(c, "TERMINATION", "VALID", "2025-04-15", None, "2028-04-15", "内医保罚〔2025〕8号")
            for c in terminated
        ),
        # 10 points from one decision: the national default is 4 months.
        *(
            sanction(c, "SUSPENSION", "VALID", "2025-04-15", "2025-08-14", None, "内医保罚〔2025〕8号")
            for c in suspended
        ),
    ]
    during = await world.eligibility("D150102000007", "2025-08-14T23:59:00+08:00", institutionCode="H15010200001")
    assert (during["eligible"], during["status"], during["eligibleAgainOn"]) == (False, "SUSPENDED", "2025-08-15")
    after = await world.eligibility("D150102000007", "2025-08-15T00:00:00+08:00", institutionCode="H15010200001")
    assert (after["eligible"], after["status"]) == (True, "NORMAL")
    emergency = await world.eligibility("D150102000007", "2025-05-01T03:00:00+08:00", emergency=True)
    assert (emergency["eligible"], emergency["status"]) == (True, "SUSPENDED")


async def test_guizhou_same_band_different_lengths(world: World) -> None:
    await world.institution("H52011100001", "520111")
    await world.people("H52011100001", "520111", "D520111000001", "D520111000002")
    result = await world.decide(
        case="贵医保罚〔2025〕3号",
        entries=[("D520111000001", 11), ("D520111000002", 10, 3)],
        decided_on="2025-05-06",
        region="520111",
        institution="H52011100001",
    )
    assert brief(result["sanctions"]) == [
        sanction("D520111000001", "SUSPENSION", "VALID", "2025-05-06", "2025-11-05", None, "贵医保罚〔2025〕3号"),
        sanction("D520111000002", "SUSPENSION", "VALID", "2025-05-06", "2025-08-05", None, "贵医保罚〔2025〕3号"),
    ]


async def test_chongqing_accumulated_fourteen_points_terminates_with_one_year_bar(world: World) -> None:
    await world.institution("H50010100001", "500101")
    await world.people("H50010100001", "500101", "D500101000001")
    first = await world.decide(
        case="渝医保〔2025〕11号",
        entries=[("D500101000001", 10)],
        decided_on="2025-02-15",
        region="500101",
        institution="H50010100001",
    )
    assert brief(first["sanctions"]) == [
        sanction("D500101000001", "SUSPENSION", "VALID", "2025-02-15", "2025-06-14", None, "渝医保〔2025〕11号")
    ]
    second = await world.decide(
        case="渝医保〔2025〕27号",
        entries=[("D500101000001", 4)],
        decided_on="2025-05-20",
        region="500101",
        institution="H50010100001",
    )
    assert brief(second["sanctions"]) == [
        sanction("D500101000001", "SUSPENSION", "SUPERSEDED", "2025-02-15", "2025-06-14", None, "渝医保〔2025〕11号"),
        sanction("D500101000001", "TERMINATION", "VALID", "2025-05-20", None, "2026-05-20", "渝医保〔2025〕27号"),
    ]
    record = await world.record("D500101000001", 2025)
    assert (record["points"], record["status"]) == (14, "TERMINATED")
    # As of a day in the suspension before the termination, the person was suspended.
    march = await world.eligibility("D500101000001", "2025-03-01T10:00:00+08:00")
    assert march["status"] == "SUSPENDED"
    # The bar is one year: registering again on 2026-05-20 succeeds and starts clean.
    data = await world.client.op(
        "RegisterPractitioner",
        {
            "input": f.practitioner(
                "D500101000001", ("H50010100001",), "500101", registered_on="2026-05-20", serial="000"
            )
        },
        token=world.national,
    )
    assert data["registerPractitioner"]["userErrors"] == []
    clean = await world.eligibility("D500101000001", "2026-06-01T10:00:00+08:00", institutionCode="H50010100001")
    assert (clean["eligible"], clean["status"]) == (True, "NORMAL")


async def test_zhongshan_pharmacy_principals_one_point_each(world: World) -> None:
    await world.institution("P44200000001", "442000")
    codes = ["HY442000000001", "HY442000000002", "HY442000000003"]
    await world.people("P44200000001", "442000", *codes, category="PHARMACY_PRINCIPAL")
    result = await world.decide(
        case="中医保〔2025〕5号",
        entries=[(c, 1) for c in codes],
        decided_on="2025-07-01",
        region="442000",
        institution="P44200000001",
        basis="AGREEMENT_HANDLING",
    )
    assert result["userErrors"] == [] and result["sanctions"] == []
    assert [e["points"] for e in result["decision"]["entries"]] == [1, 1, 1]
    record = await world.record(codes[0], 2025)
    assert (record["points"], record["status"], record["sanctions"]) == (1, "NORMAL", [])
    assert record["pointRecords"] == [
        {
            "caseNumber": "中医保〔2025〕5号",
            "regionCode": "442000",
            "points": 1,
            "responsibility": "MAIN",
            "decidedOn": "2025-07-01",
            "state": "VALID",
        }
    ]
