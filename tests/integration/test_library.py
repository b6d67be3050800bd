"""The Python API (`import shelfsight`), on a real CNN workspace: the same answers the CLI
and the HTTP API give, from any kind of image, with one model load."""

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import shelfsight

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def photo(fashion_dir, pid):
    return fashion_dir / "images" / f"{pid}.jpg"


@pytest.fixture(scope="module")
def shelf(cnn_home):
    return shelfsight.open(cnn_home)


def test_open_refuses_a_missing_workspace_instead_of_creating_it(tmp_path):
    with pytest.raises(shelfsight.NotFound, match="does not exist"):
        shelfsight.open(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
    created = shelfsight.open(tmp_path / "new", create=True)
    assert created.home.is_dir() and created.catalogue.count() == 0
    with pytest.raises(shelfsight.NotIndexed):
        created.similar("anything")


def test_every_kind_of_image_gives_the_same_tags(shelf, ids, fashion_dir):
    path = photo(fashion_dir, ids[5])
    data = path.read_bytes()
    pil = Image.open(io.BytesIO(data)).convert("RGB")
    answers = [
        shelf.tag(path),
        shelf.tag(str(path)),
        shelf.tag(data),
        shelf.tag(pil),
        shelf.tag(np.asarray(pil)),
    ]
    first = answers[0]
    assert isinstance(first, shelfsight.TagResult)
    assert first.tags["articleType"].value and 0 <= first.tags["articleType"].score <= 1
    assert first.tags["colour"].source == "colour" and first.colour.palette

    def same(a, b):
        assert {f: t.value for f, t in a.tags.items()} == {f: t.value for f, t in b.tags.items()}
        assert [n.id for n in a.neighbours] == [n.id for n in b.neighbours]

    # a file, by path or bytes, is recognised as the catalogue's own photo by its bytes and
    # never votes for itself
    for other in answers[1:3]:
        same(other, first)
    assert answers[2].match.duplicate_of == ids[5]
    assert ids[5] not in [n.id for n in answers[2].neighbours]
    # decoded pixels have no file bytes: the same picture is found as a near-copy instead
    same(answers[4], answers[3])
    assert answers[3].match.duplicate_of == ids[5]
    assert answers[3].neighbours[0].id == ids[5] and answers[3].neighbours[0].distance < 0.01
    # the model behind it was loaded once for all five
    assert shelf.neighbour_search.embedder is shelf.neighbour_search.embedder


def test_a_product_id_answers_from_its_stored_vector(shelf, ids):
    by_id = shelf.tag(ids[0], attributes="")
    assert by_id.query.product_id == ids[0] and by_id.colour is None
    similar = shelf.similar(ids[0], k=5, where={"gender": ["Men", "Women"]})
    assert isinstance(similar, shelfsight.SimilarResult) and 0 < len(similar.results) <= 5
    assert all(r.tags["gender"] in ("Men", "Women") for r in similar.results)
    assert shelf.similar(ids[0], k=5, where=["gender=Men"]).where == {"gender": ["Men"]}


def test_errors_are_one_family(shelf, tmp_path):
    with pytest.raises(shelfsight.NotFound, match="neither a product id nor an image"):
        shelf.tag("no-such-product")
    with pytest.raises(shelfsight.BadInput, match="did you mean Men"):
        shelf.similar("x", where={"gender": ["Mne"]})
    with pytest.raises(shelfsight.BadInput, match="family=value"):
        shelf.similar("x", where=["nonsense"])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    with pytest.raises(shelfsight.BadInput) as err:
        shelf.tag(bad)
    assert err.value.error in ("not an image", "unreadable image", "truncated image")
    with pytest.raises(shelfsight.BadInput, match="unknown attributes"):
        shelf.tag(bad, attributes="colour,smell")
    with pytest.raises(shelfsight.BadInput, match="unexpected keyword"):
        shelf.tag("x", colour="red")
    with pytest.raises(shelfsight.BadInput):
        shelf.tag(12345)


def test_search_and_describe(shelf, ids):
    title = shelf.product(ids[0]).title
    word = max(re.findall(r"[A-Za-z]{4,}", title), key=len)
    found = shelf.search(word, k=5, mode="keyword")
    assert isinstance(found, shelfsight.SearchResult) and found.results
    assert all(word.lower() in (r.title + " ".join(r.tags.values())).lower() for r in found.results)
    text = shelf.describe(ids[0], length="short")
    assert isinstance(text, shelfsight.Description)
    assert text.text and text.words <= 15 and text.unsupported_claims == []
    by_title = shelf.describe(title="Blue denim shirt for men", k=3)
    assert by_title.text and len(by_title.neighbours) == 3
    with pytest.raises(shelfsight.BadInput, match="unknown tone"):
        shelf.describe(ids[0], tone="sarcastic")


def test_writes_take_the_lock_and_other_instances_see_them(home, ids, fashion_dir):
    writer, reader = shelfsight.open(home), shelfsight.open(home)
    before = reader.similar(ids[1], k=3).results
    picture = (
        Image.open(photo(fashion_dir, ids[1]))
        .convert("RGB")
        .transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    )
    done = writer.add({"id": "lib-1", "title": "Mirrored copy", "tags": {"gender": "Men"}}, picture)
    assert done == [{"id": "lib-1", "status": "added"}]
    # the reader picks up the version the writer published, without reopening
    assert reader.similar("lib-1", k=1).results[0].id == ids[1]
    assert "lib-1" in [r.id for r in reader.similar(ids[1], k=3).results]
    assert reader.product("lib-1").tags == {"gender": "Men"}
    writer.delete("lib-1")
    assert [r.id for r in reader.similar(ids[1], k=3).results] == [r.id for r in before]
    with pytest.raises(shelfsight.NotFound):
        writer.delete("lib-1")
    with pytest.raises(shelfsight.BadInput, match="needs an image"):
        writer.add({"id": "lib-2", "title": "no photo"})


def test_the_readme_example_runs_outside_the_repository(cnn_home, ids, fashion_dir, tmp_path):
    """The README's "Python API" example, as written, from another folder: the installed
    package is `shelfsight` alone (`import indexer` fails there)."""
    block = README.read_text().split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", block, re.S).group(1)
    code = code.replace('"shelfsight-data"', repr(str(cnn_home)))
    code = code.replace('"photo.jpg"', repr(str(photo(fashion_dir, ids[2]))))
    code = code.replace('"15970"', repr(ids[2]))
    script = code + "\nprint('EXAMPLE-OK')\n"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "EXAMPLE-OK" in out.stdout, out.stderr[-2000:]
    gone = subprocess.run(
        [sys.executable, "-c", "import indexer"], cwd=tmp_path, capture_output=True, text=True
    )
    assert gone.returncode != 0 and "No module named 'indexer'" in gone.stderr


def test_the_wheel_installs_one_package_named_shelfsight(tmp_path):
    import shutil
    import zipfile

    # Built from a copy: an in-tree build would leave build/ and egg-info in the checkout.
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".venv", ".git", "shelfsight-data", "build", "*.egg-info", "__pycache__", ".ruff_cache"
    )
    shutil.copytree(README.parent, src, ignore=skip)
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "-w", str(tmp_path), str(src)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("shelfsight-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    info = wheel.name.split("-py3")[0] + ".dist-info"
    assert {n.split("/")[0] for n in names} == {"shelfsight", info}
    assert "shelfsight/service/static/index.html" in names  # the page ships with it
    assert "shelfsight/indexer/embedders/trunk.py" in names


def test_look_ups_by_id_load_no_model(cnn_home, ids, tmp_path):
    """`shelfsight similar ID` and a keyword search read stored vectors and SQLite: torch,
    scikit-learn and the sentence encoder stay unimported (they cost seconds and 600 MB)."""
    script = (
        "import sys\n"
        "from shelfsight.service import cli\n"
        f"cli.app(['similar', {ids[0]!r}, '--home', {str(cnn_home)!r}, '--json'],"
        " standalone_mode=False)\n"
        f"cli.app(['search', 'shirt', '--mode', 'keyword', '--home', {str(cnn_home)!r}],"
        " standalone_mode=False)\n"
        "heavy = ('torch', 'sklearn', 'sentence_transformers', 'easyocr', 'transformers')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert '"results"' in out.stdout and "HEAVY []" in out.stdout, out.stdout[-500:]
