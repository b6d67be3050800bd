"""``eval tagging``'s result as the terminal shows it."""

from __future__ import annotations

from typing import Any

from shelfsight.tagging.evaluation.words import format_blocks


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"model={result['model']} k={result['k']} p={result['power']} "
        f"alpha={result.get('alpha', 0)} pixel={result.get('pixel_weight', 0)} "
        f"shift={result.get('shift', 'random')} "
        f"transform={result.get('query_transform') or 'none'} "
        f"catalogue={result['n_catalog']} "
        f"queries={result['n_queries']} seconds={result['seconds']}",
        f"{'family':<16} {'accuracy':>9} {'macro_f1':>9} {'majority':>9} {'ece':>7} "
        f"{'raw_ece':>8} {'acc@80%':>8} {'review':>7} {'support':>8}",
    ]
    for fam, m in result["attributes"].items():
        lines.append(
            f"{fam:<16} {m['accuracy']:>9.4f} {m['macro_f1']:>9.4f} "
            f"{m['majority_accuracy']:>9.4f} {m['ece']:>7.4f} {m.get('raw_ece', 0):>8.4f} "
            f"{m['accuracy_at_coverage']['0.8']:>8.4f} {m.get('review_rate', 0):>7.3f} "
            f"{m['support']:>8d}"
        )
    for name, g in result.get("groups", {}).items():
        accs = ", ".join(
            f"{f} {m['accuracy']:.3f} (review {m.get('review_rate', 0):.2f})"
            for f, m in g["attributes"].items()
        )
        lines.append(
            f"  {name} ({g['n_queries']} queries, out of domain "
            f"{g.get('out_of_domain_rate', 0):.2f}): {accs}"
        )
    if "out_of_domain_rate" in result:
        lines.append(f"out of domain: {result['out_of_domain_rate']:.3f} of queries")
    mi = result["micro"]
    lines.append(f"micro: precision={mi['precision']} recall={mi['recall']} f1={mi['f1']}")
    lines += format_blocks(result)
    return "\n".join(lines)
