"""What a description calls each product of a catalogue: the product noun of its head clause
("Black casual t-shirt for men" -> "t-shirt"), written from the record (title and type, as
`describe ID` writes it) and from a photo's type tag alone (as `describe photo.jpg` writes
it), for every row.

    python scripts/bench_product_nouns.py --catalog ../shared/data/fashion/styles.csv \
        [--title-column productDisplayName] [--type-column articleType] \
        [--json nouns.json] [--compare previous_build_nouns.json]

Prints how many rows' record noun is the record's type (in the lexicon's canonical form),
another product, or no product noun the lexicon knows, and how many are a fragment a
shopper would not say ("flop" of flip flops, "pant" of track pants, "scarve"). With
``--compare`` (this script's ``--json`` from another build, same catalogue), the rows whose
noun changed, grouped by what it was and is. No workspace or model: the head clause is
written from the row alone, so this runs in seconds on a whole catalogue.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

from shelfsight.tagging.describe.compose import article_phrase
from shelfsight.tagging.describe.facts import Facts
from shelfsight.tagging.describe.lexicon import Lexicon

# Pieces of a product noun that are no product on their own, as the builds before this
# benchmark said them.
FRAGMENTS = {"flop", "flops", "pant", "scarve", "tight", "stocking", "sweat"}


def nouns(rows: list[dict[str, str]], title: str, kind: str) -> list[dict[str, str]]:
    lexicon = Lexicon()
    out = []
    for r in rows:
        tags = {"articleType": r[kind]} if r.get(kind) else {}
        out.append(
            {
                "title": r.get(title, ""),
                "type": r.get(kind, ""),
                "record": article_phrase(Facts(title=r.get(title, ""), tags=tags), lexicon),
                "photo": article_phrase(Facts(tags=tags), lexicon) if tags else "",
            }
        )
    return out


def summary(found: list[dict[str, str]]) -> dict[str, int]:
    lexicon = Lexicon()
    counts: Counter[str] = Counter()
    for row in found:
        said = [c.canonical for c in lexicon.claims(row["record"]) if c.category == "article"]
        label = [c.canonical for c in lexicon.claims(row["type"]) if c.category == "article"]
        if not said:
            counts["no product noun the lexicon knows"] += 1
        elif not row["type"]:
            counts["a product noun, no type to compare"] += 1
        elif label and said[-1] == label[-1]:
            counts["the record's type"] += 1
        elif label:
            counts["another product (the title's)"] += 1
        else:
            counts["a type the lexicon does not know"] += 1
        for path in ("record", "photo"):
            if row[path].split()[-1:] and row[path].split()[-1] in FRAGMENTS:
                counts[f"fragments ({path})"] += 1
    return dict(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", type=Path, required=True)
    ap.add_argument("--title-column", default="productDisplayName")
    ap.add_argument("--type-column", default="articleType")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--compare", type=Path, help="This script's --json from another build.")
    args = ap.parse_args()
    with open(args.catalog, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    found = nouns(rows, args.title_column, args.type_column)
    print(f"{len(found)} rows")
    for name, n in sorted(summary(found).items(), key=lambda kv: -kv[1]):
        print(f"  {name:40s} {n}")
    if args.json:
        args.json.write_text(json.dumps(found))
    if args.compare:
        before = json.loads(args.compare.read_text())
        for path in ("record", "photo"):
            changed = Counter(
                (b["type"], b[path], a[path])
                for b, a in zip(before, found, strict=True)
                if b[path] != a[path]
            )
            print(f"{path}: {sum(changed.values())} rows changed")
            for (kind, was, now), n in changed.most_common(15):
                print(f"  {n:5d}  {kind or '-'}: {was or '(the title)'} -> {now}")


if __name__ == "__main__":
    main()
