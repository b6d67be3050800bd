"""Time per description the way the service writes them: one describer per process
(prepared once, as at start-up), then product ids and uploaded photos described at each
length and tone.

    python scripts/bench_describe.py --home WS --images ../shared/data/fashion/images \
        --limit 40 [--backend edit|transformers|openai] [--targets id,photo,new] \
        [--json out.json]

Targets: ``id`` (catalogue products by id), ``photo`` (their photos as uploads, each
leaving itself out), ``new`` (photos of ``--images`` the workspace does not hold). Prints
the preparation time and, per target kind and setting, the median and 90th percentile
seconds, the mean words, the share of texts in the length's word range, the words per text
that the product's facts do not contain (``ungrounded``, the audit of ``eval describe``),
and the share of texts that open on the product's tag values in a row ("Black Apparel
Casual.", ``tag rows``) instead of a sentence. A photo's time includes tagging it (the
facts) and finding its neighbours.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from shelfsight.indexer.images import decode_bytes, read_image_file
from shelfsight.indexer.workspace import Workspace
from shelfsight.tagging.describe.backends import load_backend
from shelfsight.tagging.describe.catalogue import CatalogueDescriber, DescribeRequest
from shelfsight.tagging.describe.controls import WORD_RANGES
from shelfsight.tagging.describe.grounding import ungrounded_words
from shelfsight.tagging.describe.writer import DescribeOptions, Description, DescriptionWriter
from shelfsight.tagging.evaluation.describe import CONTROL_SETTINGS
from shelfsight.tagging.search.visual import NeighbourSearch


def _summary(
    length: str, seconds: list[float], texts: list[Description]
) -> dict[str, float | None]:
    ordered = sorted(seconds)
    words = [len(d.text.split()) for d in texts]
    span = WORD_RANGES.get(length)
    loose = ungrounded_words([d.text for d in texts], [d.facts for d in texts])
    return {
        "median_s": round(statistics.median(ordered), 4),
        "p90_s": round(ordered[int(0.9 * (len(ordered) - 1))], 4),
        "mean_words": round(sum(words) / len(words), 1),
        # None for "house": it has no range (NaN is not JSON)
        "in_range": round(sum(span.low <= w <= span.high for w in words) / len(words), 3)
        if span
        else None,
        "ungrounded_rate": round(sum(len(w) for w in loose) / len(texts), 3),
        "tag_rows": round(sum(_tag_row(d) for d in texts) / len(texts), 3),
    }


def _tag_row(d: Description) -> bool:
    """Whether the text opens on the product's tag values in a row ("Black Apparel
    Casual.") instead of a sentence: a capitalised tag value after its first word, or a
    first sentence that is one tag value."""
    first = d.text.split(".")[0].split()
    values = {w for v in d.facts.tags.values() for w in v.split()}
    return bool(first) and (
        any(w.strip(",") in values and w[0].isupper() for w in first[1:])
        or " ".join(first) in d.facts.tags.values()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--backend", default="edit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--targets",
        default="id,photo",
        help="id, photo, new (photos of --images not in the workspace); comma-separated.",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    search = NeighbourSearch(Workspace.open(args.home, create=False))
    t0 = time.perf_counter()
    describer = CatalogueDescriber(search, DescriptionWriter(load_backend(args.backend)))
    describer.prepare()
    prepare_s = time.perf_counter() - t0
    ids = [p.id for p in search.catalogue.iter_products()]
    known = {f"{i}.jpg" for i in ids} if "new" in args.targets else set()
    random.Random(args.seed).shuffle(ids)
    ids = ids[: args.limit]
    photos = [args.images / f"{i}.jpg" for i in ids if (args.images / f"{i}.jpg").is_file()]
    new = sorted(f for f in args.images.glob("*.jpg") if f.name not in known) if known else []
    random.Random(args.seed).shuffle(new)

    result: dict[str, object] = {"backend": describer.describer.label, "prepare_s": prepare_s}
    wanted = set(args.targets.split(","))
    for kind, targets in (("id", ids), ("photo", photos), ("new", new[: args.limit])):
        if kind not in wanted:
            continue
        for length, tone in CONTROL_SETTINGS:
            seconds, texts = [], []
            for target in targets:
                opts = DescribeOptions(length=length, tone=tone)
                started = time.perf_counter()
                if kind == "id":
                    d = describer.describe(DescribeRequest(target=str(target)), opts)
                else:  # a catalogue photo as an upload (itself left out), or a new one
                    image = decode_bytes(read_image_file(Path(target)))
                    query = search.query_for_image(image, exclude_same_image=kind == "photo")
                    d = describer.describe_query(query, DescribeRequest(force=True), opts)
                seconds.append(time.perf_counter() - started)
                texts.append(d)
            result[f"{kind} {length}/{tone}"] = _summary(length, seconds, texts)
    print(f"backend {result['backend']}: prepared in {prepare_s:.1f} s")
    for key, value in result.items():
        if isinstance(value, dict):
            in_range = "-" if value["in_range"] is None else f"{value['in_range']:.2f}"
            print(
                f"{key:<24} median {value['median_s']:.3f} s  p90 {value['p90_s']:.3f} s  "
                f"{value['mean_words']:.1f} words  in range {in_range}  "
                f"ungrounded {value['ungrounded_rate']:.3f}  tag rows {value['tag_rows']:.3f}"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
