import json
import shutil

import pytest
from typer.testing import CliRunner

from shelfsight.service.cli import app


def run_cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="session")
def cnn_home(tmp_path_factory, fashion_slice, fashion_dir):
    """The 300-row fashion slice ingested and indexed with the CNN (no training)."""
    home = tmp_path_factory.mktemp("cnn-ws")
    run_cli("ingest", fashion_slice, "--images", fashion_dir / "images", "--home", home, "--json")
    json.loads(run_cli("index", "--home", home, "--json"))
    return home


@pytest.fixture(scope="session")
def ids(fashion_slice):
    """The slice's product ids, in file order."""
    import csv

    with open(fashion_slice, newline="") as fh:
        return [r["id"] for r in csv.DictReader(fh)]


@pytest.fixture()
def home(cnn_home, tmp_path):
    """A private copy of ``cnn_home`` for tests that write: nothing leaks between tests."""
    dst = tmp_path / "ws"
    shutil.copytree(cnn_home, dst)
    return dst
