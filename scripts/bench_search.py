"""Keyword vs semantic vs hybrid search on a set of queries written from the catalogue
(``scripts/search_queries.json``): recall@10 and MRR, all modes in one run.

    python scripts/bench_search.py --home WS [--json out.json]

A product is relevant to a query when its tags meet every condition the query file gives
(``title_prefix`` is the title's first word: the brand). recall@10 is the share of the
top 10 that could be relevant which are (the relevant count capped at 10); MRR is the mean
of 1 / the rank of the first relevant result (0 when none is in the top 50).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import shelfsight

QUERIES = Path(__file__).with_name("search_queries.json")
# "and": the previous build's search, every word exact (FTS5 AND), for the before/after.
MODES = ("and", "keyword", "semantic", "hybrid")


def and_search(shelf, q: str, k: int) -> list:
    words = re.findall(r"\w+", q)
    if not words:
        return []
    rows = shelf.catalogue.db["products"].search(" ".join(f'"{w}"' for w in words), limit=k)
    return [shelf.catalogue.get(r["id"]) for r in rows]


def relevant(product, rule: dict) -> bool:
    for family, want in rule.items():
        wanted = want if isinstance(want, list) else [want]
        have = product.title.split()[0] if family == "title_prefix" and product.title else None
        have = have if family == "title_prefix" else product.tags.get(family)
        if have not in wanted:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    shelf = shelfsight.open(args.home)
    queries = json.loads(args.queries.read_text())["queries"]
    products = list(shelf.catalogue.iter_products())
    shelf.search("warm-up", k=1)  # the title vectors and the model, outside the timing
    rows = []
    for item in queries:
        n_relevant = sum(relevant(p, item["relevant"]) for p in products)
        row = {"q": item["q"], "kind": item["kind"], "relevant": n_relevant}
        for mode in MODES:
            t0 = time.perf_counter()
            if mode == "and":
                found = and_search(shelf, item["q"], 50)
            else:
                found = shelf.search(item["q"], k=50, mode=mode).results
            ms = (time.perf_counter() - t0) * 1000
            hits = [relevant(p, item["relevant"]) for p in found]
            first = next((i + 1 for i, h in enumerate(hits) if h), None)
            row[mode] = {
                "recall@10": round(sum(hits[:10]) / max(1, min(10, n_relevant)), 3),
                "rr": round(1 / first, 3) if first else 0.0,
                "ms": round(ms, 1),
            }
        rows.append(row)
        print(
            f"{item['q'][:38]:<38} {item['kind']:<7} rel={n_relevant:<5}"
            + "".join(f" {m[:3]} {row[m]['recall@10']:.2f}/{row[m]['rr']:.2f}" for m in MODES)
        )
    summary = {}
    for kind in ("words", "meaning", "all"):
        subset = [r for r in rows if kind == "all" or r["kind"] == kind]
        summary[kind] = {
            mode: {
                "recall@10": round(statistics.mean(r[mode]["recall@10"] for r in subset), 3),
                "mrr": round(statistics.mean(r[mode]["rr"] for r in subset), 3),
                "median_ms": round(statistics.median(r[mode]["ms"] for r in subset), 1),
            }
            for mode in MODES
        }
        print(
            f"{kind:<8} ({len(subset)} queries): "
            + "; ".join(
                f"{m} R@10 {summary[kind][m]['recall@10']:.3f} MRR {summary[kind][m]['mrr']:.3f}"
                f" {summary[kind][m]['median_ms']:.0f} ms"
                for m in MODES
            )
        )
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "queries": rows}, indent=2))


if __name__ == "__main__":
    main()
