"""Request ids, the JSON log line of each request, and the metrics, as the in-process node produces them."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests import factories as f
from tests.conftest import Client

P, H = "D520201000001", "H52020100001"


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def the_request(stream: io.StringIO, request_id: str) -> list[dict[str, Any]]:
    return [line for line in lines(stream) if line.get("request_id") == request_id]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def send(client: Client, name: str, variables: dict[str, Any], token: str, request_id: str) -> dict[str, Any]:
    from tests.ops import DOCUMENTS

    response = await client.http.post(
        "/graphql",
        json={"query": DOCUMENTS[name], "operationName": name, "variables": variables},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
    )
    assert response.headers["x-request-id"] == request_id
    body: dict[str, Any] = response.json()
    return body


async def test_a_request_id_is_made_when_none_is_sent_and_echoed(client: Client) -> None:
    first = await client.post('{ eligibility(practitionerCode: "X1") { eligible } }', token=client.token("national"))
    second = await client.post('{ eligibility(practitionerCode: "X1") { eligible } }', token=client.token("national"))
    assert first.headers["x-request-id"] and first.headers["x-request-id"] != second.headers["x-request-id"]
    # A header that could forge log lines is not taken as the id.
    hostile = await client.http.post("/graphql", json={}, headers={"X-Request-ID": 'x" injected\\n'})
    assert hostile.headers["x-request-id"] != 'x" injected\\n'


async def test_the_log_line_of_a_request_names_actor_operation_outcome_and_duration(
    client: Client, logs: io.StringIO
) -> None:
    bureau = client.token("bureau", region="520000")
    await send(client, "RegisterInstitution", {"input": f.institution(H)}, bureau, "r-inst")
    practitioner = f.practitioner(P, (H,))
    body = await send(client, "RegisterPractitioner", {"input": practitioner}, bureau, "r-1")
    assert body["data"]["registerPractitioner"]["userErrors"] == []

    [line] = the_request(logs, "r-1")
    assert line["event"] == "request" and line["level"] == "info"
    assert line["method"] == "POST" and line["path"] == "/graphql" and line["status"] == 200
    assert (line["operation"], line["outcome"]) == ("RegisterPractitioner", "ok")
    assert (line["role"], line["region"]) == ("bureau", "520000")
    assert line["duration_ms"] > 0 and line["timestamp"]
    # Never a token or a resident ID.
    assert bureau not in logs.getvalue() and bureau.split(".")[1] not in logs.getvalue()
    assert practitioner["idNumber"] not in logs.getvalue()


async def test_user_errors_are_one_line_without_a_traceback(client: Client, logs: io.StringIO) -> None:
    national = client.token("national")
    bad = await send(client, "RegisterInstitution", {"input": f.institution("H1")}, national, "r-bad")
    assert bad["data"]["registerInstitution"]["userErrors"][0]["code"] == "INVALID_CODE"
    forbidden = await send(
        client, "Practitioner", {"code": "D9", "year": 2025}, client.token("practitioner", practitioner="D1"), "r-f"
    )
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unknown = await client.http.post(
        "/graphql",
        json={"query": "{ nothing }"},
        headers={"Authorization": f"Bearer {national}", "X-Request-ID": "r-v"},
    )
    assert unknown.json()["errors"]

    for request_id, operation in (("r-bad", "RegisterInstitution"), ("r-f", "Practitioner"), ("r-v", None)):
        [line] = the_request(logs, request_id)
        assert (line["operation"], line["outcome"], line["level"]) == (operation, "user_error", "info")
    assert "Traceback" not in logs.getvalue()


async def test_a_bug_logs_its_traceback_under_the_request_id_the_client_sees(
    client: Client, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.eligibility import service

    async def broken(*args: object) -> None:
        raise RuntimeError("the service failed")

    monkeypatch.setattr(service, "check", broken)
    response = await client.post('{ eligibility(practitionerCode: "X1") { eligible } }', token=client.token("national"))
    request_id = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert "the service failed" not in response.text

    bug, request = the_request(logs, request_id)
    assert bug["event"] == "unexpected error" and bug["level"] == "error"
    assert "Traceback" in bug["exception"] and "RuntimeError: the service failed" in bug["exception"]
    assert request["event"] == "request" and request["outcome"] == "error"


async def test_requests_are_counted_by_operation_and_outcome(client: Client) -> None:
    national = client.token("national")
    before_ok = sample("registry_graphql_requests_total", operation="RegisterInstitution", outcome="ok")
    before_user = sample("registry_graphql_requests_total", operation="RegisterInstitution", outcome="user_error")
    before_latency = sample("registry_graphql_request_duration_seconds_count", operation="RegisterInstitution")
    await send(client, "RegisterInstitution", {"input": f.institution(H)}, national, "m-1")
    await send(client, "RegisterInstitution", {"input": f.institution("H1")}, national, "m-2")
    await send(client, "RegisterInstitution", {"input": f.institution("H2")}, national, "m-3")
    assert sample("registry_graphql_requests_total", operation="RegisterInstitution", outcome="ok") == before_ok + 1
    assert (
        sample("registry_graphql_requests_total", operation="RegisterInstitution", outcome="user_error")
        == before_user + 2
    )
    assert (
        sample("registry_graphql_request_duration_seconds_count", operation="RegisterInstitution") == before_latency + 3
    )

    # A request refused for its token ran no operation.
    refused = sample("registry_graphql_requests_total", operation="unknown", outcome="user_error")
    assert (await client.post('{ eligibility(practitionerCode: "X1") { eligible } }', token=None)).status_code == 401
    assert sample("registry_graphql_requests_total", operation="unknown", outcome="user_error") == refused + 1


async def test_eligibility_checks_are_counted_single_and_batched(client: Client) -> None:
    national = client.token("national")
    single, batch = (
        sample("registry_eligibility_checks_total", kind="single"),
        sample("registry_eligibility_checks_total", kind="batch"),
    )
    batches = sample("registry_eligibility_batch_size_count")
    await send(client, "Eligibility", {"practitionerCode": P}, national, "e-1")
    checks = [{"practitionerCode": f"D52020100000{i}"} for i in range(3)]
    await send(client, "Eligibilities", {"checks": checks}, national, "e-2")
    # Aliases count too: two batches in one document.
    await client.gql(
        'query { a: eligibilities(checks: [{practitionerCode: "D1"}]) { eligible }'
        ' b: eligibilities(checks: [{practitionerCode: "D2"}, {practitionerCode: "D3"}]) { eligible } }',
        token=national,
    )
    assert sample("registry_eligibility_checks_total", kind="single") == single + 1
    assert sample("registry_eligibility_checks_total", kind="batch") == batch + 6
    assert sample("registry_eligibility_batch_size_count") == batches + 3


async def test_metrics_endpoint_serves_the_prometheus_text_format(client: Client) -> None:
    await client.post('{ eligibility(practitionerCode: "X1") { eligible } }', token=client.token("national"))
    response = await client.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "registry_graphql_requests_total{" in response.text
    assert 'registry_event_log_head{node_region="000000"}' in response.text


async def test_the_event_log_head_follows_the_log(client: Client) -> None:
    def head(text: str) -> float:
        [value] = [line.split()[-1] for line in text.splitlines() if line.startswith("registry_event_log_head{")]
        return float(value)

    before = head((await client.http.get("/metrics")).text)
    await client.op("RegisterInstitution", {"input": f.institution(H)}, token=client.token("national"))
    assert head((await client.http.get("/metrics")).text) > before
