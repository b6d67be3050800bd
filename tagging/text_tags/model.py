"""A text model per tag family, fitted on the catalogue's own titles.

Word (1-2) and character (2-5, within words) TF-IDF n-grams, one linear model per family
trained by SGD on the log loss. Chosen by measurement (BENCHMARKS.md, issue 26; 5-fold
cross-validation on the sample's 9,583 titles): complement naive Bayes is 30x faster
but 3 points worse on articleType (0.953 vs 0.980) and 6 on season; SGD run to 30
epochs is no better than to convergence (10) at 3x the time. Character n-grams keep a
typo ("T-shrit") or a plural the catalogue never wrote close to the word it knows.
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import hstack
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import FeatureUnion

MIN_PER_VALUE = 2  # a value seen once cannot be told from noise
SEED = 0


def _classifier() -> SGDClassifier:
    return SGDClassifier(loss="log_loss", alpha=5e-5, max_iter=10, tol=1e-3, random_state=SEED)


def _vectoriser() -> FeatureUnion:
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
                ),
            ),
        ]
    )


@dataclass
class TextModel:
    """The fitted vectoriser and one classifier per family (families with at least two
    values seen ``MIN_PER_VALUE`` times); ``generation`` is the catalogue's when fitted."""

    vectoriser: FeatureUnion
    classifiers: dict[str, SGDClassifier]
    generation: int = -1
    n_titles: int = 0
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, titles: Sequence[str], tags: Sequence[Mapping[str, str]], families: Sequence[str]
    ) -> TextModel:
        t0 = time.perf_counter()
        vectoriser = _vectoriser()
        x = vectoriser.fit_transform(list(titles))
        classifiers = {}
        with warnings.catch_warnings():
            # 10 epochs reach what 30 do (module docstring): the warning says nothing new.
            warnings.simplefilter("ignore", ConvergenceWarning)
            for family in families:
                rows, labels = _labelled(tags, family)
                if len(set(labels)) >= 2:
                    classifiers[family] = _classifier().fit(x[rows], labels)
        model = cls(vectoriser, classifiers, n_titles=len(titles))
        model.seconds = round(time.perf_counter() - t0, 2)
        return model

    def ranked(self, text: str) -> dict[str, list[tuple[str, float]]]:
        """Per family, the values for one listing's words, most probable first; nothing
        for a text with no word the catalogue's titles hold (it would be the prior)."""
        return self.ranked_many([text])[0]

    def ranked_many(self, texts: Sequence[str]) -> list[dict[str, list[tuple[str, float]]]]:
        """``ranked`` for many listings at once (one vectorising pass: an evaluation's
        thousands of queries)."""
        x = self._features(texts)
        probs = {f: self._proba(f, x) for f in self.classifiers}
        out: list[dict[str, list[tuple[str, float]]]] = []
        for row, words in enumerate(x.getnnz(axis=1)):
            one = {}
            for family, p in probs.items() if words else ():
                classes = self.classifiers[family].classes_
                order = np.argsort(-p[row])
                one[family] = [(str(classes[i]), float(p[row, i])) for i in order]
            out.append(one)
        return out

    def _features(self, texts: Sequence[str]) -> Any:
        """The union's features, each part transformed in turn: ``FeatureUnion.transform``
        goes through joblib even for one text, a few ms of a /tag."""
        parts = [t.transform(list(texts)) for _, t in self.vectoriser.transformer_list]
        return hstack(parts).tocsr()

    def _proba(self, family: str, x: Any) -> np.ndarray:
        """``predict_proba`` of the family's classifier (one-vs-rest logistic, normalised),
        from its weights laid out once for a sparse row: sklearn transposes the
        coefficient matrix on every call, most of what the words added to a /tag."""
        weights = self.__dict__.setdefault("_weights", {})
        if family not in weights:
            clf = self.classifiers[family]
            weights[family] = (np.ascontiguousarray(clf.coef_.T), clf.intercept_.copy())
        w, b = weights[family]
        prob = expit(np.asarray(x @ w) + b)
        if prob.shape[1] == 1:
            return np.hstack([1 - prob, prob])
        total = prob.sum(axis=1, keepdims=True)
        return np.where(total > 0, prob / np.where(total > 0, total, 1), 1 / prob.shape[1])

    def _word_row(self, text: str) -> Any:
        """The word n-gram features of ``text``, kept for the last text: a tag asks for
        the evidence of every family of the same listing (7 transforms were 1 ms each)."""
        last = self.__dict__.get("_last_row")
        if last is None or last[0] != text:
            last = self.__dict__["_last_row"] = (text, _word_features(self, text))
        return last[1]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_last_row", "_weights")}

    @functools.cached_property
    def _word_names(self) -> np.ndarray:
        # Built once: the whole vocabulary per family per call was most of what the
        # words added to a /tag.
        return self.vectoriser.transformer_list[0][1].get_feature_names_out()

    def evidence(self, text: str, family: str, value: str, top: int = 3) -> list[str]:
        """The words of ``text`` that pushed ``family`` most towards ``value`` (the word
        features' weight x their TF-IDF), strongest first."""
        clf = self.classifiers.get(family)
        if clf is None or value not in clf.classes_:
            return []
        x = self._word_row(text)
        row = list(clf.classes_).index(value)
        coef = clf.coef_[row] if clf.coef_.shape[0] > 1 else clf.coef_[0] * (1 if row else -1)
        pushed = x.data * coef[x.indices]  # the row's word features only
        names = self._word_names
        found = sorted(
            ((float(v), str(names[i])) for i, v in zip(x.indices, pushed, strict=True)),
            reverse=True,
        )
        spelled = {w.casefold(): w for w in re.findall(r"[\w'-]+", text)}
        out = [spelled.get(name, name) for v, name in found if v > 0 and " " not in name]
        return out[:top]


def _word_features(model: TextModel, text: str) -> Any:
    return model.vectoriser.transformer_list[0][1].transform([text]).tocsr()


def _labelled(tags: Sequence[Mapping[str, str]], family: str) -> tuple[list[int], list[str]]:
    values = [t.get(family) for t in tags]
    counts: dict[str, int] = {}
    for v in values:
        if v:
            counts[v] = counts.get(v, 0) + 1
    rows = [i for i, v in enumerate(values) if v and counts[v] >= MIN_PER_VALUE]
    return rows, [str(values[i]) for i in rows]
