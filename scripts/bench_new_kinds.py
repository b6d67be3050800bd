"""How well the listing's words propose kinds the catalogue lacks, over many held-out sets.

    python scripts/bench_new_kinds.py --catalog ../shared/data/fashion/styles.csv --sets 8

``eval tagging --shift unseen:articleType:10`` measures one held-out set of types with the
whole tagger; this measures only the kind rule (``tagging.text_tags.kinds``), fast enough
for many sets: for each seed, N types (of 5+ rows, chosen as the eval's shift chooses
them) leave the catalogue, the rule is fitted on 80 % of the rest, and reads the held-out
types' titles (the share proposed as their own type, case, hyphens and plural aside) and
the other 20 % (the share given a false proposal), as written and under each text
transform.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict

from shelfsight.tagging.evaluation.shift import MIN_UNSEEN_ROWS
from shelfsight.tagging.text_tags.kinds import KindSlot, same_kind
from shelfsight.tagging.text_tags.perturb import TEXT_TRANSFORMS, transform_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--family", default="articleType")
    ap.add_argument("--colour-family", default="baseColour")
    ap.add_argument("--title-column", default="productDisplayName")
    ap.add_argument("--held-out", type=int, default=10, help="types held out per set")
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--json")
    args = ap.parse_args()
    with open(args.catalog, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(args.family)]
    skip = {"id", args.title_column}
    families = [c for c in rows[0] if c not in skip and not c.endswith(("year", "Year"))]
    colours = sorted({r[args.colour_family] for r in rows if r.get(args.colour_family)})
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        groups[r[args.family]].append(r)
    candidates = sorted(v for v, rs in groups.items() if len(rs) >= MIN_UNSEEN_ROWS)
    wordings = ["as written", *[t for t in TEXT_TRANSFORMS if t != "empty"]]
    totals = {w: {"new_value_accuracy": 0.0, "false_proposal_share": 0.0} for w in wordings}
    sets = []
    for seed in range(args.sets):
        held = sorted(random.Random(seed).sample(candidates, args.held_out))
        rest = [r for r in rows if r[args.family] not in held]
        random.Random(seed).shuffle(rest)
        cut = int(len(rest) * 0.8)
        catalogue, seen = rest[:cut], rest[cut:]
        unseen = [r for r in rows if r[args.family] in held]
        slot = KindSlot.fit(
            args.family,
            [r[args.title_column] for r in catalogue],
            [{f: r[f] for f in families} for r in catalogue],
        )
        one = {"held_out": held}
        for wording in wordings:

            def words(r: dict[str, str], wording: str = wording) -> str:
                title = r[args.title_column]
                return title if wording == "as written" else transform_text(wording, title, colours)

            hits = sum(
                1 for r in unseen if (p := slot.propose(words(r))) and same_kind(p, r[args.family])
            )
            false = sum(1 for r in seen if slot.propose(words(r)))
            found = {
                "new_value_accuracy": round(hits / len(unseen), 4),
                "false_proposal_share": round(false / len(seen), 4),
            }
            one[wording] = found
            for key, v in found.items():
                totals[wording][key] += v / args.sets
        sets.append(one)
        print(seed, ", ".join(held))
        print("   ", one["as written"])
    print(f"mean over {args.sets} sets of {args.held_out} held-out types:")
    for wording, t in totals.items():
        print(
            f"  {wording:12s} new_value_accuracy {t['new_value_accuracy']:.3f}"
            f"  false_proposal_share {t['false_proposal_share']:.4f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"sets": sets, "mean": totals}, fh, indent=2)


if __name__ == "__main__":
    main()
