"""Build a second, prose-style catalogue from the Myntra listings for `eval describe`.

Most Myntra descriptions follow the house template ("Navy blue checked casual shirt, has a
spread collar, long sleeves"); some brands write free prose instead ("Crafted from soft
cotton, this relaxed shirt..."). This keeps the listings whose description reads as prose:
at least 25 words with a full sentence, no template marker (", has a"), and not a spec
sheet of "Field: value" lines. The output has the input's columns, so

    python scripts/prose_catalogue.py --out /tmp/prose.csv
    shelfsight eval describe --catalog /tmp/prose.csv --holdout-fraction 0.3

evaluates the describer on a catalogue that does not write in one template. The file is
derived data: write it outside the repository.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

DEFAULT_SOURCE = (
    Path(__file__).resolve().parents[1] / "../shared/data/descriptions/myntra_catalog.csv"
)
_TEMPLATE = re.compile(r",\s+has\s+(?:a|an)\b", re.I)
_FIELD = re.compile(r"[A-Za-z][A-Za-z ]{1,25}:\s*\S")
_SENTENCE_END = re.compile(r"[a-z][.!?](?:\s|$)")


def is_prose(description: str, min_words: int = 25) -> bool:
    # Measured on the 10,491 Myntra listings: 356 pass (a few "What it is: ..." headings
    # allowed, at most 3), 74 with >= 40 words and no heading at all.
    words = description.split()
    return (
        len(words) >= min_words
        and not _TEMPLATE.search(description)
        and len(_FIELD.findall(description)) <= 3
        and bool(_SENTENCE_END.search(description))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--description-column", default="Description")
    ap.add_argument("--min-words", type=int, default=25)
    args = ap.parse_args()
    with open(args.source, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = [f for f in reader.fieldnames or [] if f]
        rows = list(reader)
    kept = [r for r in rows if is_prose(r.get(args.description_column) or "", args.min_words)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(kept)
    print(f"{len(kept)} of {len(rows)} listings are prose -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
