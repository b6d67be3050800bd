"""Descriptions on real data: retrieve-and-edit with its length and tone controls on real
Myntra neighbours, the shipped SmolLM2-135M loaded once, the CLI, the evaluation command."""

import csv
import json

import pytest
from typer.testing import CliRunner

from shelfsight.service.cli import app
from shelfsight.tagging.describe.backends import load_backend
from shelfsight.tagging.describe.controls import WORD_RANGES
from shelfsight.tagging.describe.facts import Facts, Listing
from shelfsight.tagging.describe.grounding import ungrounded_words
from shelfsight.tagging.describe.lexicon import Lexicon, catalogue_nouns
from shelfsight.tagging.describe.vocabulary import Vocabulary
from shelfsight.tagging.describe.writer import CLAUSE_POOL, DescribeOptions, DescriptionWriter
from shelfsight.tagging.search.text_encoder import TitleIndex

from .conftest import run_cli
from .llm_server import ChatServer

pytestmark = pytest.mark.integration

DESCRIPTIONS = "descriptions/myntra_catalog.csv"


@pytest.fixture(scope="module")
def smollm():
    backend = load_backend("transformers", threads=2)
    backend.load()
    return backend


@pytest.fixture(scope="module")
def myntra(fashion_dir):
    """A real catalogue with descriptions (3,000 listings), neighbours found by title."""
    source = fashion_dir.parent / DESCRIPTIONS
    if not source.is_file():
        pytest.skip(f"no {source}")
    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:3000]
    listings = [
        Listing(r["Product_ID"], r["Product_Name"], r["Description"], {}, r["Product_Brand"])
        for r in rows
    ]
    index = TitleIndex([x.title for x in listings], progress=False)
    lexicon = Lexicon.for_catalogue(
        sorted({x.brand for x in listings}),
        catalogue_nouns(x.title for x in listings),
        (x.description for x in listings),
    )
    vocabulary = Vocabulary.from_texts(t for x in listings for t in (x.title, x.description))
    describer = DescriptionWriter(None, lexicon, vocabulary, {x.description for x in listings})

    def pool(title):
        _, found = index.search([title], CLAUSE_POOL)
        return [listings[int(i)] for i in found[0] if i >= 0]

    return describer, pool


PRODUCTS = [
    Facts(
        title="Puma Women White Running Shoes",
        brand="Puma",
        gender="Women",
        colours=["White"],
        tags={"usage": "Sports", "season": "Summer"},
    ),
    Facts(
        title="Roadster Men Navy Blue Checked Casual Shirt",
        brand="Roadster",
        gender="Men",
        colours=["Navy Blue"],
        tags={"usage": "Casual", "season": "Fall"},
        palette=["White"],
    ),
    Facts(
        title="Libas Women Maroon Printed Kurta",
        brand="Libas",
        gender="Women",
        colours=["Maroon"],
        tags={"usage": "Ethnic"},
    ),
]


def _describe(myntra, facts, **opts):
    describer, pool = myntra
    nearest = pool(facts.title)
    return describer.describe(facts, nearest[:5], DescribeOptions(**opts), nearest)


def test_the_lengths_stay_in_their_ranges_or_say_why_and_state_only_facts(myntra):
    # Every word from the facts (issue 28): a medium text reaches 20 words only where the
    # facts hold 20 words' worth; one that does not says so in its length note.
    for facts in PRODUCTS:
        counts = []
        for length, rng in WORD_RANGES.items():
            out = _describe(myntra, facts, length=length)
            n = len(out.text.split())
            assert n <= rng.high and (n >= rng.low or out.length_note), (length, out.text)
            assert out.unsupported_claims == [] and out.nonwords_removed == []
            assert ungrounded_words([out.text], [facts]) == [[]], out.text
            counts.append(n)
        # longer never says less: never padding that states nothing
        assert counts == sorted(counts) and counts[0] <= 15, counts


def test_tones_differ_and_no_phrase_ends_every_text(myntra):
    endings = {tone: set() for tone in ("neutral", "premium", "playful")}
    for facts in PRODUCTS:
        texts = {t: _describe(myntra, facts, length="medium", tone=t).text for t in endings}
        assert len(set(texts.values())) == 3, texts
        for tone, text in texts.items():
            endings[tone].add(" ".join(text.split()[-3:]))
    assert all(len(e) == len(PRODUCTS) for e in endings.values())


def test_a_planted_invented_noun_and_non_word_are_removed_from_a_real_scaffold(myntra):
    describer, pool = myntra
    facts = PRODUCTS[1]
    nearest = pool(facts.title)
    planted = Listing(
        "planted",
        nearest[0].title,
        "Red checked casual shirt, has a spread collar, cardigamer cuffs, long sleeves, "
        "turtle jacket pocket, curved hem",
    )
    for length in ("house", "medium"):
        out = describer.describe(facts, [planted, *nearest[:4]], DescribeOptions(length=length))
        low = out.text.lower()
        assert "cardigamer" not in low and "jacket" not in low and " red " not in f" {low} "
        assert low.startswith("navy blue checked casual shirt")


def test_shipped_model_loads_once_and_its_text_is_guarded(smollm):
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
    assert load_backend("transformers", threads=2) is smollm  # one model per process
    describer = DescriptionWriter(smollm, Lexicon(["Roadster", "HERE&NOW"]))
    opts = DescribeOptions(length="short")
    first = describer.describe(facts, nbrs, opts)
    again = describer.describe(facts, nbrs, opts)
    assert smollm.loads == 1  # the second call did not read the weights again
    assert first.text == again.text  # greedy decoding: the same facts give the same text
    assert 3 <= len(first.text.split()) <= 15 and first.backend.startswith("transformers:")
    claims = {c.canonical for c in describer.lexicon.claims(first.text) if c.category == "colour"}
    assert claims <= {"navy", "blue"}  # never the neighbours' black or red
    assert first.text not in {n.description for n in nbrs}


def test_the_model_is_converted_once_and_read_back_the_same(smollm, tmp_path):
    """The GGUF's first load in this run writes its converted copy (the session's cache,
    ``tests/conftest.py``); a new backend reads the copy: the same weights and the same
    text. A damaged copy is not trusted, and a cache that cannot be written costs nothing
    but the copy."""
    import shutil

    import torch

    from shelfsight.tagging.describe import converted_models
    from shelfsight.tagging.describe.backends import GenerationRequest, TransformersBackend

    entry = converted_models.entry_for(smollm.model_id, smollm.gguf_file)
    assert entry is not None and (entry / converted_models.COMPLETE).is_file()
    again = TransformersBackend(threads=2)  # not load_backend's: a second load in the process
    again.load()
    assert smollm.source in ("gguf", "converted") and again.source == "converted"
    theirs = again._model.state_dict()
    assert all(torch.equal(w, theirs[k]) for k, w in smollm._model.state_dict().items())
    ask = GenerationRequest([{"role": "user", "content": "Describe a navy cotton shirt."}], 24)
    assert again.generate(ask) == smollm.generate(ask)

    damaged = tmp_path / "damaged"  # a copy whose weights file was cut short
    shutil.copytree(entry, damaged, ignore=shutil.ignore_patterns(converted_models.WEIGHTS))
    with open(entry / converted_models.WEIGHTS, "rb") as fh:
        (damaged / converted_models.WEIGHTS).write_bytes(fh.read(1000))
    assert converted_models.load(damaged) is None and not damaged.exists()

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    converted_models.save(blocked / "entry", smollm._tokenizer, smollm._model)  # no raise
    assert blocked.read_text() == "not a folder"


def first_id(fashion_slice):
    with open(fashion_slice, newline="") as fh:
        return next(csv.DictReader(fh))["id"]


def test_cli_describe_a_catalogue_product_and_a_title(cnn_home, fashion_slice):
    pid = first_id(fashion_slice)
    with open(fashion_slice, newline="") as fh:
        record = next(csv.DictReader(fh))
    out = json.loads(
        run_cli("describe", pid, "--home", cnn_home, "--length", "short", "--json", "-k", "3")
    )
    assert out["facts"]["title"] and len(out["neighbours"]) == 3
    # its own record, not its neighbours' tags (10000 is a white skirt whose neighbours are
    # white T-shirts: it was described as "sports skirts" from Topwear / Tshirts / Sports)
    tags = out["facts"]["tags"]
    for family in ("subCategory", "articleType", "usage"):
        assert tags[family] == record[family], (family, tags)
    assert out["facts"]["colours"] == [record["baseColour"]]
    assert record["articleType"].lower().rstrip("s") in out["text"].lower()  # "heel" of Heels
    assert record["usage"].lower() in out["text"].lower()
    assert pid not in [n["id"] for n in out["neighbours"]]
    assert out["text"] and out["backend"] == "edit"  # the default: no model to load
    assert len(out["text"].split()) <= 15 and out["unsupported_claims"] == []
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
    assert result.exit_code == 3 and "neither a product id nor an image" in result.output
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
    assert result.exit_code == 6 and "cannot reach" in result.output


def test_eval_describe_reports_the_describer_baselines_and_controls(tmp_path, fashion_dir):
    source = fashion_dir.parent / DESCRIPTIONS
    if not source.is_file():
        pytest.skip(f"no {source}")
    with open(source, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh)][:400]
    small = tmp_path / "small.csv"
    fields = [f for f in rows[0] if f]
    with open(small, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "eval.json"
    table = run_cli("eval", "describe", "--catalog", small, "--limit", "20", "--json", out)
    result = json.loads(out.read_text())
    assert result["n"] == 20 and "nn_copy" in table and "changed" in table
    for system in ("describer", "lexicon_guard", "five_slot_guard", "nn_copy", "template"):
        m = result[system]
        assert {
            "rouge_l",
            "bleu4",
            "distinct1",
            "distinct2",
            "unsupported_rate",
            "ungrounded_rate",
            "nonword_rate",
            "identical_rate",
            "seconds_per_item",
            "n",
            "backend",
        } <= set(m)
        assert 0 <= m["rouge_l"] <= 1 and m["n"] == 20
    d = result["describer"]
    assert d["backend"] == "edit" and result["median_seconds"] < 2
    assert d["unsupported_rate"] == 0 and d["identical_rate"] == 0 and d["nonword_rate"] == 0
    assert result["nn_copy"]["identical_rate"] == 1
    controls = result["controls"]
    assert set(controls) == {
        "house/neutral",
        "short/neutral",
        "medium/neutral",
        "long/neutral",
        "medium/premium",
        "medium/playful",
    }
    assert controls["medium/neutral"]["changed_share"] == 0
    assert controls["short/neutral"]["mean_words"] <= 15
    assert controls["short/neutral"]["in_range"] == 1
    for name in ("medium/premium", "medium/playful"):
        assert controls[name]["changed_share"] >= 0.9, name
    # medium adds only what the facts support, word by word: for many products the short
    # text is all that is true to say (issue 28), so short differs from medium for only
    # about two in three (0.65 on these 20; 0.92 before the guard and 0.7 before grounding)
    assert controls["short/neutral"]["changed_share"] >= 0.5
    # every detail slot is audited: the guard before issue 28 let them through
    assert d["unsupported_detail"] == 0
    assert result["five_slot_guard"]["unsupported_detail"] > 0
    assert result["nn_copy"]["unsupported_rate"] > result["five_slot_guard"]["unsupported_rate"]
    # and every word: the lexicon's guard kept neighbours' words no fact says (issue 28)
    assert d["ungrounded_rate"] == 0 and result["lexicon_guard"]["ungrounded_rate"] > 0


def test_planted_details_are_removed_at_every_length_and_tone_and_offered_instead(myntra):
    describer, pool = myntra
    facts = PRODUCTS[1]  # Roadster navy blue checked casual shirt: no sleeve, rise, pattern
    nearest = pool(facts.title)
    planted = Listing(
        "planted",
        nearest[0].title,
        "Navy blue checked mid-rise casual shirt, has a spread collar, three-quarter "
        "sleeves, curved hem. Pattern: Geometric",
    )
    neighbours = [planted, *nearest[:4]]
    for length in ("house", "short", "medium", "long"):
        for tone in ("neutral", "premium", "playful"):
            out = describer.describe(
                facts, neighbours, DescribeOptions(length=length, tone=tone), [planted, *nearest]
            )
            low = out.text.lower()
            for detail in ("mid-rise", "three-quarter", "geometric"):
                assert detail not in low, (length, tone, out.text)
    # what the real neighbours agree on is offered for a person to confirm
    assert out.to_confirm and all(c["agreement"] >= 2 for c in out.to_confirm)
    assert {"sleeve", "collar"} & {c["slot"] for c in out.to_confirm}
