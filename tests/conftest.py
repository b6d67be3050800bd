from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHELFSIGHT_SHARED_DATA", ROOT.parent / "shared" / "data"))
FASHION = SHARED_DATA / "fashion"


def fashion_rows() -> list[dict[str, str]]:
    with open(FASHION / "styles.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    if not (FASHION / "styles.csv").is_file():
        pytest.skip(f"shared fashion data not found at {FASHION}")
    return FASHION


@pytest.fixture(scope="session")
def fashion_slice(fashion_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded 300-row slice of the shared fashion catalogue, as a CSV."""
    rows = fashion_rows()
    random.Random(0).shuffle(rows)
    out = tmp_path_factory.mktemp("slice") / "slice300.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:300])
    return out


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory):
    """Converted language models go to one folder of this run, shared by its processes
    (the first load converts, the later ones read the copy), never the user's cache."""
    folder = tmp_path_factory.mktemp("converted-models")
    before = os.environ.get("SHELFSIGHT_MODEL_CACHE")
    os.environ["SHELFSIGHT_MODEL_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("SHELFSIGHT_MODEL_CACHE", None)
    else:
        os.environ["SHELFSIGHT_MODEL_CACHE"] = before
