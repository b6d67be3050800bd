"""The API's OpenAPI document: what Swagger and a client generator read (issue 28)."""

import pytest

from shelfsight.core.settings import Settings
from shelfsight.service.app import create_app


@pytest.fixture(scope="module")
def operations(tmp_path_factory):
    home = tmp_path_factory.mktemp("ws")
    schema = create_app(Settings(home=str(home))).openapi_schema.to_schema()
    return [
        (f"{method.upper()} {path}", op, schema)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    ]


def test_every_operation_is_summarised_described_and_grouped(operations):
    ops = operations
    assert len(ops) >= 20
    for name, op, _ in ops:
        summary = op.get("summary", "")
        # a sentence for a person, not the handler's CamelCase name
        assert " " in summary or summary in {"Icon"}, (name, summary)
        assert len(op.get("description") or "") >= 20, name
        assert op.get("tags") and op["tags"] != ["default"], name


def test_the_api_key_is_a_security_scheme_on_every_write(operations):
    ops = operations
    schemes = ops[0][2]["components"]["securitySchemes"]
    assert schemes["apiKey"] == {"type": "apiKey", "name": "X-API-Key", "in": "header"}
    secured = {name for name, op, _ in ops if {"apiKey": []} in (op.get("security") or [])}
    for write in (
        "POST /products",
        "DELETE /products/{product_id}",
        "POST /review/{item_id}/accept",
        "POST /review/accept",
        "POST /review/{item_id}/reject",
        "POST /review/{item_id}/undo",
        "GET /review/export",
    ):
        assert write in secured, write
    for open_ in ("GET /search", "GET /products/{product_id}", "POST /similar"):
        assert open_ not in secured
    # keep=true needs the key; plain tagging does not: the key is optional there
    tag = next(op for name, op, _ in ops if name == "POST /tag")
    assert {} in tag["security"] and {"apiKey": []} in tag["security"]
