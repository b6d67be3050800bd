"""Schema-driven fuzzing (schemathesis) of every documented endpoint: no 5xx, and every
answer (status code and body) is the one the OpenAPI document describes."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from shelfsight.core.settings import Settings
from shelfsight.service.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def schema(cnn_home, tmp_path_factory):
    import shutil

    home = tmp_path_factory.mktemp("fuzz") / "ws"
    shutil.copytree(cnn_home, home)
    app = create_app(Settings(home=str(home), api_key="s3cret"))
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app)


def test_every_success_response_is_documented_with_its_fields(schema):
    doc = schema.raw_schema
    components = doc["components"]["schemas"]

    def resolve(node):
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    seen = 0
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            for status, response in op["responses"].items():
                content = response.get("content", {})
                if not status.startswith("2") or "image" in str(content):
                    continue
                if "text/csv" in content:  # a download (the review inbox's decisions)
                    continue
                body = resolve(response["content"]["application/json"]["schema"])
                assert body.get("properties"), f"{method.upper()} {path} {status}: {body}"
                seen += 1
            for status in ("400", "404"):  # the error body is documented as it is sent
                if status in op["responses"]:
                    err = resolve(op["responses"][status]["content"]["application/json"]["schema"])
                    assert {"status_code", "error", "detail"} <= set(err["properties"])
    assert seen >= 10


def test_no_server_errors(schema):
    failures, calls = [], []
    # /describe is fuzzed too: its default (retrieve-and-edit) loads no language model.
    for operation in schema.get_all_operations():
        fuzz(operation.ok(), failures, calls)
    assert failures == []
    # every endpoint was really called, with many generated inputs
    assert len({c for c in calls}) == 23 and len(calls) > 100


def fuzz(op, failures, calls):
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=op.as_strategy())
    def check(case):
        response = case.call()
        calls.append(f"{op.method} {op.path}")
        try:
            case.validate_response(
                response,
                checks=[
                    not_a_server_error,
                    response_schema_conformance,
                    status_code_conformance,
                ],
            )
        except AssertionError as exc:  # collect, so one run reports every endpoint
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:500]}")

    check()
