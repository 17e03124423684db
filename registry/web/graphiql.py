"""GraphiQL served by the node itself: its scripts come from static/graphiql/ (no CDN), and the page opens with the
documented operations, example variables, a header that explains the token, and the schema (so the editor
completes and documents without a token)."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from graphql import IntrospectionQuery, build_schema, introspection_from_schema
from strawberry.fastapi import GraphQLRouter
from strawberry.http.base import BaseRequestProtocol

from registry.clock import today

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "static" / "graphiql"
SERVED = frozenset(path.name for path in ASSETS.glob("*.js")) | frozenset(path.name for path in ASSETS.glob("*.css"))
# The operations live beside the package in the repository (the README installs it editable).
OPERATIONS = HERE.parents[1] / "graphql" / "operations"

# Short lines: the query editor is half the page wide.
INTRODUCTION = """\
# The registry's operations (graphql/operations).
# To run one: press ▶ and pick it by name,
# or put the cursor in it and press Ctrl-Enter.
#
# The variables fit the queries; a mutation takes
# `input`, as the comment below it describes.
#
# Every request needs a bearer token in Headers:
# `registry serve` printed one, or make one with
#   registry token --role national
# (add --data-dir if the node runs elsewhere).

"""
TOKEN_HEADER = "Bearer <the output of: registry token --role national>"


def example_variables() -> dict[str, Any]:
    """Variables for every query in the document; each operation reads only those it declares."""
    return {
        "practitionerCode": "D520201000001",
        "institutionCode": "H52020100001",
        "emergency": False,
        "checks": [{"practitionerCode": "D520201000001", "institutionCode": "H52020100001"}],
        "code": "D520201000001",
        "year": today().year,
        "regionCode": "520201",
        "first": 20,
    }


def operations_document() -> str:
    files = sorted(OPERATIONS.glob("*.graphql"))
    if not files:
        return INTRODUCTION + f"# No operations found in {OPERATIONS}.\n"
    return INTRODUCTION + "\n".join(path.read_text(encoding="utf-8") for path in files)


class GraphiQLRouter(GraphQLRouter[Any, Any]):
    """strawberry's router, with our GraphiQL page and its assets at {prefix}/static/NAME."""

    def __init__(self, *args: Any, show_schema: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.show_schema = show_schema  # off with introspection (REGISTRY_INTROSPECTION=false): the page has none
        self.add_api_route("/static/{name}", self.asset, methods=["GET"], include_in_schema=False)

    async def asset(self, name: str) -> FileResponse:
        if name not in SERVED:
            raise HTTPException(404, "Not Found")
        return FileResponse(ASSETS / name)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A browser following a ?query= link gets the page with that query in it; other GETs keep strawberry's
        # answers (queries and mutations run only as POST with a token).
        if not self.graphql_ide:
            return False  # switched off (REGISTRY_GRAPHIQL=false)
        accept = request.headers.get("accept", "")
        return super().should_render_graphql_ide(request) or (request.method == "GET" and "text/html" in accept)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        link = request.query_params
        document = operations_document()
        config: dict[str, Any] = {"query": document, "variables": json.dumps(example_variables(), indent=2)}
        if link.get("query"):  # a ?query= link opens exactly what it names
            config = {k: link.get(k) for k in ("query", "variables", "operationName")}
        config |= {
            "defaultQuery": document,
            "headers": json.dumps({"Authorization": TOKEN_HEADER}, indent=2),
            "schema": self.introspection if self.show_schema else None,
        }
        # "<" escaped, so no text in the JSON can close the <script> element that carries it.
        data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
        assets = request.url.path.rstrip("/") + "/static/"
        return HTMLResponse(PAGE.replace("{{assets}}", assets).replace("{{config}}", data))

    @cached_property
    def introspection(self) -> IntrospectionQuery:
        return introspection_from_schema(build_schema(self.schema.as_str()))


PAGE = (HERE / "graphiql.html").read_text(encoding="utf-8")
