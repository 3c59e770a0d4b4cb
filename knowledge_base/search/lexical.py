"""The lexical channel: character 3-gram TF-IDF over the same phrasings as the vector index.

Embeddings blur what matters most in a support question about a product: names, error codes,
command names ("ошибка 0x80070005", "kubectl", "ORA-12154"). Character 3-grams keep them, and
catch Russian word forms and typos without a stemmer. Scores are cosines in [0, 1], one per
phrasing in the order given; the vector index turns them into article scores through the same
curated and learned channels as its own, and fuses the two rankings.

The weighting is scikit-learn's `TfidfVectorizer(analyzer="char", ngram_range=(3, 3),
sublinear_tf=True)` (a test checks the two agree), written out over an inverted index in numpy:
importing scikit-learn would cost the serving bot 150 MB and a second at start.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

NGRAM = 3
_WHITESPACE = re.compile(r"\s\s+")


def ngram_counts(text: str) -> Counter[str]:
    """Character 3-grams of the lowercased text, whitespace runs folded to one space."""
    text = _WHITESPACE.sub(" ", text.lower())
    return Counter(text[i : i + NGRAM] for i in range(len(text) - NGRAM + 1))


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._phrasings = len(texts)
        counts = [ngram_counts(text) for text in texts]
        self._vocabulary: dict[str, int] = {}
        terms: list[int] = []
        docs: list[int] = []
        tfs: list[float] = []
        for doc, found in enumerate(counts):
            for gram, count in found.items():
                terms.append(self._vocabulary.setdefault(gram, len(self._vocabulary)))
                docs.append(doc)
                tfs.append(1.0 + math.log(count))
        term = np.asarray(terms, dtype=np.int64)
        doc_of = np.asarray(docs, dtype=np.int64)
        frequency = np.bincount(term, minlength=len(self._vocabulary))
        # Smooth idf, as scikit-learn: log((1 + n) / (1 + df)) + 1.
        self._idf = np.log((1 + len(texts)) / (1 + frequency)) + 1.0
        weight = np.asarray(tfs, dtype=np.float64) * self._idf[term]
        norms = np.sqrt(np.bincount(doc_of, weights=weight**2, minlength=len(texts)))
        weight /= np.where(norms > 0, norms, 1.0)[doc_of]
        # Postings: for each 3-gram, the phrasings holding it and their weights.
        by_term = np.argsort(term, kind="stable")
        self._postings_doc = doc_of[by_term]
        self._postings_weight = weight[by_term].astype(np.float32)
        self._postings_start = np.r_[0, np.cumsum(frequency)]

    def __len__(self) -> int:
        return self._phrasings

    def scores(self, questions: Sequence[str]) -> np.ndarray:
        """TF-IDF cosine of each phrasing (columns, in the order given) for each question."""
        found = np.zeros((len(questions), self._phrasings), dtype=np.float32)
        for row, question in enumerate(questions):
            cosines = self._phrasing_cosines(question) if self._phrasings else None
            if cosines is not None:
                found[row] = cosines
        return found

    def _phrasing_cosines(self, question: str) -> np.ndarray | None:
        known = [
            (self._vocabulary[gram], 1.0 + math.log(count))
            for gram, count in ngram_counts(question).items()
            if gram in self._vocabulary
        ]
        if not known:
            return None
        grams = np.asarray([g for g, _ in known], dtype=np.int64)
        weights = np.asarray([w for _, w in known]) * self._idf[grams]
        weights /= np.linalg.norm(weights)
        # One buffer, one 3-gram at a time: memory stays one float per phrasing however long
        # the question and however common its 3-grams.
        cosines = np.zeros(self._phrasings, dtype=np.float32)
        for gram, weight in zip(grams.tolist(), weights.tolist(), strict=True):
            start, end = self._postings_start[gram], self._postings_start[gram + 1]
            cosines[self._postings_doc[start:end]] += weight * self._postings_weight[start:end]
        return cosines
