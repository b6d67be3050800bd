"""Schema-driven fuzzing (schemathesis) of every documented endpoint: no 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from service.app import create_app
from service.state import ServiceConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def schema(cnn_home, tmp_path_factory):
    import shutil

    home = tmp_path_factory.mktemp("fuzz") / "ws"
    shutil.copytree(cnn_home, home)
    app = create_app(ServiceConfig(home=str(home), api_key="s3cret"))
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app)


def test_no_server_errors(schema):
    failures, calls = [], []
    # /describe is fuzzed too: its default (retrieve-and-edit) loads no language model.
    for operation in schema.get_all_operations():
        fuzz(operation.ok(), failures, calls)
    assert failures == []
    # every endpoint was really called, with many generated inputs
    assert len({c for c in calls}) == 11 and len(calls) > 100


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
            case.validate_response(response, checks=[not_a_server_error])
        except AssertionError as exc:  # collect, so one run reports every endpoint
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:500]}")

    check()
