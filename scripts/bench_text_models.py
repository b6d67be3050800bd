"""The listing words' model and its alternatives, cross-validated on a catalogue's titles.

    python scripts/bench_text_models.py --catalog ../shared/data/fashion/styles.csv

Per family, 5-fold accuracy of: the shipped model (``tagging.text_tags.model``: TF-IDF
word + character n-grams, SGD log loss), complement naive Bayes on the same features,
the shipped MiniLM's title neighbours (a similarity-weighted vote of the 10 nearest
titles), a logistic regression on MiniLM embeddings, and the TF-IDF model with the
MiniLM embedding appended. Seconds are the fitting and predicting of all folds and
families (the MiniLM encoding, done once, is reported apart).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from collections.abc import Callable

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.naive_bayes import ComplementNB

from shelfsight.tagging.search.text_encoder import TitleEncoder
from shelfsight.tagging.text_tags.model import _classifier, _vectoriser

FAMILIES = ("gender", "articleType", "baseColour", "season", "usage")


def _knn_vote(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int = 10) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(train.shape[1])
    index.add(train)
    sims, rows = index.search(test, k)
    out = []
    for s, r in zip(sims, rows, strict=True):
        votes: dict[str, float] = {}
        for sim, row in zip(s, r, strict=True):
            votes[labels[row]] = votes.get(labels[row], 0.0) + max(float(sim), 0.0)
        out.append(max(votes, key=votes.__getitem__))
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--title-column", default="productDisplayName")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    # Both SGD (10 epochs, as shipped) and the MiniLM regression stop before sklearn's
    # tolerance; the accuracies are what is compared.
    warnings.simplefilter("ignore", ConvergenceWarning)
    with open(args.catalog, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get(args.title_column)]
    titles = [r[args.title_column] for r in rows]
    families = [f for f in FAMILIES if f in rows[0]]
    t0 = time.perf_counter()
    emb = TitleEncoder().encode(titles)
    encode_s = time.perf_counter() - t0
    folds = list(KFold(5, shuffle=True, random_state=0).split(titles))

    def tfidf_sgd(tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
        vec = _vectoriser()
        x = vec.fit_transform([titles[i] for i in tr])
        return _classifier().fit(x, y[tr]).predict(vec.transform([titles[i] for i in te]))

    def tfidf_cnb(tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
        vec = _vectoriser()
        x = vec.fit_transform([titles[i] for i in tr])
        return ComplementNB(alpha=0.3).fit(x, y[tr]).predict(vec.transform([titles[i] for i in te]))

    def minilm_knn(tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _knn_vote(emb[tr], y[tr], emb[te])

    def minilm_lr(tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
        return LogisticRegression(C=10, max_iter=500).fit(emb[tr], y[tr]).predict(emb[te])

    def tfidf_plus_minilm(tr: np.ndarray, te: np.ndarray, y: np.ndarray) -> np.ndarray:
        vec = _vectoriser()
        x = hstack([vec.fit_transform([titles[i] for i in tr]), csr_matrix(emb[tr])]).tocsr()
        xt = hstack([vec.transform([titles[i] for i in te]), csr_matrix(emb[te])]).tocsr()
        return _classifier().fit(x, y[tr]).predict(xt)

    models: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
        "tfidf + SGD (shipped)": tfidf_sgd,
        "tfidf + complement NB": tfidf_cnb,
        "MiniLM title neighbours (k=10)": minilm_knn,
        "MiniLM + logistic regression": minilm_lr,
        "tfidf + MiniLM, SGD": tfidf_plus_minilm,
    }
    results = {"titles": len(titles), "minilm_encode_seconds": round(encode_s, 1), "models": {}}
    print(f"{len(titles)} titles; MiniLM encoding {encode_s:.1f} s")
    print(f"{'model':32s} {'seconds':>8s} " + " ".join(f"{f:>12s}" for f in families))
    for name, fit_predict in models.items():
        t0 = time.perf_counter()
        acc = {}
        for family in families:
            y = np.array([r[family] for r in rows])
            right = sum(int(np.sum(fit_predict(tr, te, y) == y[te])) for tr, te in folds)
            acc[family] = round(right / len(rows), 4)
        seconds = round(time.perf_counter() - t0, 1)
        results["models"][name] = {"seconds": seconds, "accuracy": acc}
        print(f"{name:32s} {seconds:8.1f} " + " ".join(f"{acc[f]:12.3f}" for f in families))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
