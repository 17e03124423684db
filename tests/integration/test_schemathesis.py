"""schemathesis against a live node: GraphQL documents generated from the schema, sent over loopback with a national
token; no answer may be a 5xx, an "Unexpected error." (INTERNAL), or a leaked traceback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.conftest import ROOT, TEST_DATA
from tests.processes import clean_env, run_registry, serve, stop

CASES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[str, str]]:
    node_dir = TEST_DATA / "node-schemathesis"
    shutil.rmtree(node_dir, ignore_errors=True)
    env = clean_env() | {"REGISTRY_RATE_PER_SECOND": "100000", "REGISTRY_RATE_BURST": "100000"}
    process, base, output = serve(node_dir, env, "--workers", "1")
    try:
        token = run_registry("token", "--data-dir", str(node_dir), "--role", "national", env=env)
        yield base, token
    finally:
        stop(process)
        shutil.rmtree(node_dir, ignore_errors=True)
        output.unlink(missing_ok=True)


# The custom scalars' values, ordinary ones and those at the edges of what parses: the first and last days Python
# knows, offsets that push a moment out of range in China time, and amounts that no column holds.
days = st.one_of(st.dates(), st.sampled_from(["0001-01-01", "9999-12-31", "1899-12-31", "2100-12-31"]).map(str))
offsets = st.sampled_from(["Z", "+08:00", "+14:00", "-14:00", ""])
schemathesis.graphql.scalar("Date", days.map(str).map(nodes.String))
schemathesis.graphql.scalar(
    "DateTime",
    st.tuples(days.map(str), st.times().map(str), offsets).map(lambda p: f"{p[0]}T{p[1]}{p[2]}").map(nodes.String),
)
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**16), max_value=10**16).map(str),
        st.sampled_from(["NaN", "Infinity", "-1", "1e20", "1e999999", "0.001", "12345.60"]),
    ).map(nodes.String),
)

# The committed schema (a test keeps it equal to the code's): schemathesis' lazy loading from a fixture does not
# work with this pytest.
schema = schemathesis.graphql.from_path(ROOT / "graphql" / "schema.graphql")


@schema.parametrize()
@seed(20261125)
@settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_internal_error(case: Any, node: tuple[str, str]) -> None:
    base, token = node
    response = case.call(base_url=f"{base}/graphql", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text
    text = response.text
    assert "Traceback" not in text and "Unexpected error." not in text and '"INTERNAL"' not in text, text
    body = response.json()
    for error in body.get("errors") or []:
        assert (error.get("extensions") or {}).get("code"), error
