"""Real generation with the shipped SmolLM2-135M, the CLI, and the evaluation command."""

import csv
import json

import pytest
from typer.testing import CliRunner

from service.cli import app
from tagging.describe.backends import TransformersBackend
from tagging.describe.facts import Facts, Listing
from tagging.describe.lexicon import Lexicon
from tagging.describe.writer import DescribeOptions, Describer

from .conftest import run_cli
from .llm_server import ChatServer

pytestmark = pytest.mark.integration

DESCRIPTIONS = "descriptions/myntra_catalog.csv"


@pytest.fixture(scope="module")
def smollm():
    backend = TransformersBackend(threads=2)
    backend.load()
    return backend


def test_shipped_model_writes_a_grounded_deterministic_description(smollm):
    facts = Facts(
        title="Roadster Men Navy Blue Slim Fit Casual Shirt",
        brand="Roadster",
        gender="Men",
        colours=["Navy Blue"],
    )
    nbrs = [
        Listing(
            "1",
            "Roadster Men Black Slim Fit Casual Shirt",
            "Black casual shirt, has a spread collar, long sleeves, curved hem",
        ),
        Listing(
            "2",
            "HERE&NOW Men Red Checked Casual Shirt",
            "Red checked casual shirt, has a button-down collar, long sleeves, curved hem",
        ),
    ]
    describer = Describer(smollm, Lexicon(["Roadster", "HERE&NOW"]))
    opts = DescribeOptions(length="short")
    first = describer.describe(facts, nbrs, opts)
    again = describer.describe(facts, nbrs, opts)
    assert first.text == again.text  # greedy decoding: the same facts give the same text
    assert len(first.text.split()) >= 3 and not first.fallback
    claims = {c.canonical for c in describer.lexicon.claims(first.text) if c.category == "colour"}
    assert claims <= {"navy", "blue"}  # never the neighbours' black or red
    assert first.max_shared_ngram <= opts.max_shared_ngram


def test_tone_changes_the_text(smollm):
    facts = Facts(title="Puma Women White Running Shoes", brand="Puma", gender="Women")
    d = Describer(smollm, Lexicon(["Puma"]))
    neutral = d.describe(facts, [], DescribeOptions(length="short", tone="neutral"))
    playful = d.describe(facts, [], DescribeOptions(length="short", tone="playful"))
    assert neutral.text != playful.text


def first_id(fashion_slice):
    with open(fashion_slice, newline="") as fh:
        return next(csv.DictReader(fh))["id"]


def test_cli_describe_a_catalogue_product_and_a_title(cnn_home, fashion_slice):
    pid = first_id(fashion_slice)
    out = json.loads(
        run_cli("describe", pid, "--home", cnn_home, "--length", "short", "--json", "-k", "3")
    )
    assert out["facts"]["title"] and len(out["neighbours"]) == 3
    assert pid not in [n["id"] for n in out["neighbours"]]
    assert out["text"] and out["backend"].startswith("transformers:")
    # text only: neighbours by title, through an OpenAI-compatible endpoint this time
    with ChatServer(["A navy blue shirt for men."]) as srv:
        out = json.loads(
            run_cli(
                "describe",
                "--title",
                "Men Navy Blue Checked Shirt",
                "--gender",
                "Men",
                "--backend",
                "openai",
                "--openai-base-url",
                srv.base_url,
                "--llm-model",
                "m",
                "--home",
                cnn_home,
                "--json",
            )
        )
    assert out["text"] == "A navy blue shirt for men."
    assert len(out["neighbours"]) == 5 and all(n["title"] for n in out["neighbours"])


def test_cli_describe_errors_are_clear(cnn_home, fashion_slice):
    result = CliRunner().invoke(app, ["describe", "no-such-id", "--home", str(cnn_home)])
    assert result.exit_code == 2 and "neither a product id nor an image" in result.output
    result = CliRunner().invoke(
        app, ["describe", first_id(fashion_slice), "--tone", "grumpy", "--home", str(cnn_home)]
    )
    assert result.exit_code == 2 and "unknown tone" in result.output
    result = CliRunner().invoke(
        app,
        [
            "describe",
            "--title",
            "Shirt",
            "--backend",
            "openai",
            "--openai-base-url",
            "http://127.0.0.1:9/v1",
            "--llm-model",
            "m",
            "--retries",
            "0",
            "--home",
            str(cnn_home),
        ],
    )
    assert result.exit_code == 2 and "cannot reach" in result.output


def test_eval_describe_reports_generator_and_both_baselines(tmp_path, fashion_dir):
    source = fashion_dir.parent / DESCRIPTIONS
    if not source.is_file():
        pytest.skip(f"no {source}")
    with open(source, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh)][:120]
    small = tmp_path / "small.csv"
    fields = [f for f in rows[0] if f]
    with open(small, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "eval.json"
    with ChatServer(["A comfortable everyday product in the colour stated."]) as srv:
        table = run_cli(
            "eval",
            "describe",
            "--catalog",
            small,
            "--limit",
            "4",
            "--backend",
            "openai",
            "--openai-base-url",
            srv.base_url,
            "--llm-model",
            "m",
            "--json",
            out,
        )
    result = json.loads(out.read_text())
    assert result["n"] == 4 and "nn_copy" in table
    for system in ("generator", "edit", "nn_copy", "template"):
        m = result[system]
        assert {
            "rouge_l",
            "bleu4",
            "distinct1",
            "distinct2",
            "unsupported_rate",
            "nonword_rate",
            "identical_rate",
            "seconds_per_item",
            "n",
            "backend",
        } <= set(m)
        assert 0 <= m["rouge_l"] <= 1 and m["n"] == 4
    assert result["template"]["unsupported_rate"] == 0  # built from the facts alone
    assert result["edit"]["unsupported_rate"] == 0 and result["edit"]["identical_rate"] == 0
    assert result["generator"]["nonword_rate"] == 0  # the guard removed any it wrote
    assert result["nn_copy"]["copy_rate"] > result["generator"]["copy_rate"]
