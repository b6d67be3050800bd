"""The package as users meet it: one `shelfsight` name, a cheap import, layers that only
import downwards, no import cycles, and the CLI and app free of the library's work."""

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import shelfsight
from shelfsight.indexer.disk_full import DiskFull
from shelfsight.indexer.embedders.hybrid import ModelFileError
from shelfsight.indexer.images import ImageError
from shelfsight.indexer.online import LockBusy
from shelfsight.indexer.vector_index import IndexMissing
from shelfsight.service import errors
from shelfsight.tagging.describe.backends import BackendError
from shelfsight.tagging.search.visual import BadFilter, NotEmbedded, UnknownProduct

ROOT = Path(__file__).resolve().parents[2]
# folder -> (package, layer): a module may import its own layer and the ones below.
LAYERS = {
    "shelfsight/core": ("shelfsight.core", 0),
    "indexer": ("shelfsight.indexer", 1),
    "tagging": ("shelfsight.tagging", 2),
    "shelfsight": ("shelfsight", 3),
    "service": ("shelfsight.service", 4),
}
# tagging's rooms, ranked the same way: what the pixels say and the searches know nothing
# of tags; the answers are built from both; the words' model and its fusion know only the
# answers; tag transfer uses all of them; descriptions use the tags; evaluation, only
# `eval` reaches, uses everything. Rooms of one rank (pixels, search) stay apart.
TAGGING_ROOMS = {
    "pixels": 0,
    "search": 0,
    "results": 1,
    "text_tags": 2,
    "neighbour_tags": 3,
    "describe": 4,
    "evaluation": 5,
}


def room_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "tagging" else None


def modules() -> dict[str, tuple[Path, int]]:
    out: dict[str, tuple[Path, int]] = {}
    for folder, (package, layer) in LAYERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join([package, *parts]).removesuffix(".__init__")
            out.setdefault(name, (path, layer))  # shelfsight/core is listed before shelfsight
    return out


# Parsed in a fresh interpreter: CPython 3.11's ast keeps one recursion counter per
# interpreter, and a thread of another test (Ray's metrics) parsing at the same time made
# ast.parse raise "AST constructor recursion depth mismatch" here (gh-106905; one suite
# run in two on 2026-12-07).
_SUMMARISE = """
import ast, json, sys
out = {}
for path in sys.argv[1:]:
    imports, names = [], []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shelfsight"):
            imports.append(node.module)
            imports.extend(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            imports.extend(a.name for a in node.names if a.name.startswith("shelfsight"))
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.extend(a.name for a in node.names)
    out[path] = {"imports": sorted(set(imports)), "names": sorted(set(names))}
print(json.dumps(out))
"""


@functools.cache
def summaries() -> dict[str, dict[str, list[str]]]:
    """Per source file: the shelfsight modules it imports (at the top or inside a
    function) and every name it uses."""
    paths = sorted(str(p) for folder in LAYERS for p in (ROOT / folder).rglob("*.py"))
    done = subprocess.run(
        [sys.executable, "-c", _SUMMARISE, *paths], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def imports(path: Path, known: dict) -> set[str]:
    """Every shelfsight module a file imports, at the top or inside a function."""
    found = summaries()[str(path)]["imports"]
    return {m for m in found if m in known and m != "shelfsight"}


def test_layers_import_only_downwards():
    known = modules()
    upward = [
        f"{name} -> {dep}"
        for name, (path, layer) in known.items()
        for dep in imports(path, known)
        if known[dep][1] > layer
    ]
    assert upward == []


def test_every_tagging_module_lives_in_a_room():
    homeless = [n for n in modules() if n.startswith("shelfsight.tagging.")]
    homeless = [n for n in homeless if room_of(n) not in TAGGING_ROOMS]
    assert homeless == []
    folders = {p.name for p in (ROOT / "tagging").iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(TAGGING_ROOMS) - {"results"}


def test_tagging_rooms_import_only_lower_rooms():
    known = modules()
    crossing = []
    for name, (path, _) in known.items():
        room = room_of(name)
        if room is None:
            continue
        for dep in imports(path, known):
            other = room_of(dep)
            if other not in (None, room) and TAGGING_ROOMS[other] >= TAGGING_ROOMS[room]:
                crossing.append(f"{name} -> {dep}")
    assert crossing == []


def test_there_are_no_import_cycles():
    known = modules()
    graph = {name: imports(path, known) - {name} for name, (path, _) in known.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_cli_and_app_leave_workspaces_locks_and_models_to_the_library():
    banned = {
        "Workspace",
        "writer_lock",
        "load_embedder",
        "load_backend",
        "NeighbourSearch",
        "Catalogue",
        "VectorIndex",
        "atomic_path",
        "Pipeline",
    }
    for path in sorted((ROOT / "service").rglob("*.py")):
        name = str(path.relative_to(ROOT / "service"))
        used = set(summaries()[str(path)]["names"])
        assert sorted(used & banned) == [], name


def test_import_is_cheap_and_exports_resolve(tmp_path):
    script = (
        "import sys, shelfsight\n"
        "heavy = [m for m in ('torch', 'numpy', 'PIL', 'faiss', 'litestar') if m in sys.modules]\n"
        "print(heavy)\n"
        "import indexer\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    # the layers install under shelfsight only: no top-level `indexer` outside the repository
    assert "No module named 'indexer'" in out.stderr
    for name in shelfsight.__all__:
        assert getattr(shelfsight, name) is not None
    with pytest.raises(AttributeError):
        _ = shelfsight.nothing_here


@pytest.mark.parametrize(
    ("exc", "family", "status", "code"),
    [
        (UnknownProduct("x"), shelfsight.NotFound, 404, 3),
        (BadFilter("f"), shelfsight.BadInput, 400, 2),
        (ImageError("image too large", "big"), shelfsight.BadInput, 413, 2),
        (ImageError("truncated image"), shelfsight.BadInput, 422, 2),
        (shelfsight.OutOfDomain("far"), shelfsight.BadInput, 422, 2),
        (NotEmbedded("x"), shelfsight.NotIndexed, 409, 4),
        (IndexMissing("none"), shelfsight.NotIndexed, 409, 4),
        (ModelFileError("bad"), shelfsight.ModelError, 500, 5),
        (BackendError("down"), shelfsight.BackendError, 502, 6),
        (LockBusy("busy"), shelfsight.Busy, 503, 7),
        (DiskFull("x", OSError(28, "no space")), shelfsight.StorageError, 507, 1),
    ],
)
def test_one_error_family_one_status_one_exit_code(exc, family, status, code):
    assert isinstance(exc, family) and isinstance(exc, shelfsight.ShelfsightError)
    assert errors.http_status(exc) == status and errors.exit_code(exc) == code
    assert errors.error_name(exc) != "error"  # each says what it is


def test_the_old_builtin_bases_still_catch():
    assert isinstance(ImageError("x"), ValueError) and isinstance(UnknownProduct("x"), KeyError)
    assert isinstance(DiskFull("x", OSError()), OSError)
    assert isinstance(IndexMissing("x"), FileNotFoundError)
