"""Task-nearest alignment rows: which alignment prompts a task data set pushes on.

The benign fine-tuning rows that erode safety most are those closest to harmful requests (He,
Xia and Henderson, "What is in Your Safe Data? Identifying Benign Data that Breaks Safety",
arXiv 2404.01099; on the organism, drift comes from similarity to the alignment data). The
KL anchor's ``kl_nearest`` option (ours) therefore draws part of its rows from the alignment
rows nearest to the task rows, so that the refusals the task pushes against are held most often.

Similarity is the cosine of TF-IDF word vectors of the prompts,

    tfidf(w, d) = tf(w, d) * (log((1 + N) / (1 + df(w))) + 1),    sim(a, b) = cos(v_a, v_b),

with document frequencies over both sets (the smoothed IDF of scikit-learn's
``TfidfVectorizer``, written here with torch sparse tensors because scikit-learn is not a
training dependency of this package). Words are lower-cased runs of letters and digits.
"""

from __future__ import annotations

import math
import random
import re
import warnings
from collections import Counter
from collections.abc import Sequence

import torch

from alignguard.data import Example

WORD = re.compile(r"\w+")
CHUNK = 1024  # task prompts scored against every alignment prompt at a time


def _tfidf(docs: Sequence[str], vocab: dict[str, int], idf: torch.Tensor) -> torch.Tensor:
    """L2-normalised TF-IDF rows of ``docs`` as a sparse ``(len(docs), len(vocab))`` tensor."""
    rows, cols, vals = [], [], []
    for i, doc in enumerate(docs):
        counts = Counter(WORD.findall(doc.lower()))
        weights = {vocab[w]: c * float(idf[vocab[w]]) for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        for j, v in weights.items():
            rows.append(i)
            cols.append(j)
            vals.append(v / norm)
    index = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
    return torch.sparse_coo_tensor(index, torch.tensor(vals, dtype=torch.float32),
                                   (len(docs), len(vocab)), check_invariants=True).coalesce()


def nearest_rows(queries: Sequence[str], keys: Sequence[str]) -> tuple[list[int], list[float]]:
    """For each query, the index of the key with the highest TF-IDF cosine (ties: the lowest
    index; -1 where the query shares no word with any key) and that cosine.

    Raises:
        ValueError: no keys to choose from.
    """
    if not keys:
        raise ValueError("nearest_rows needs at least one key")
    if not queries:
        return [], []
    docs = [*queries, *keys]
    df = Counter(w for doc in docs for w in set(WORD.findall(doc.lower())))
    vocab = {w: i for i, w in enumerate(sorted(df))}
    idf = torch.tensor([math.log((1 + len(docs)) / (1 + df[w])) + 1 for w in sorted(df)])
    if not vocab:
        return [-1] * len(queries), [0.0] * len(queries)
    key_t = _tfidf(keys, vocab, idf).t().coalesce()
    out: list[int] = []
    cos: list[float] = []
    for start in range(0, len(queries), CHUNK):
        with warnings.catch_warnings():  # torch calls its sparse x sparse product beta
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
            sims = torch.sparse.mm(_tfidf(queries[start:start + CHUNK], vocab, idf), key_t)
        sims = sims.to_dense()
        best, index = sims.max(dim=1)
        out += torch.where(best > 0, index, -1).tolist()
        cos += best.tolist()
    return out, cos


def task_nearest_rows(task: Sequence[Example], rows: Sequence[Example], fraction: float,
                      seed: int) -> list[Example]:
    """Alignment rows to add to an anchor stream of ``rows`` so that ``fraction`` of its draws
    are task-nearest refusals.

    The keys are the refusal rows of ``rows`` (keyword judge's markers; all rows if none is a
    refusal): the replies a task can push towards compliance. Each task row ``i`` is matched to
    its nearest key (:func:`nearest_rows`, by prompt) with cosine ``c_i``, and
    ``round(fraction / (1 - fraction) * len(rows))`` draws (seeded) pick task rows with
    probability ``c_i**2 / sum_j c_j**2`` and add their keys: ``c_i**2`` is the share of the task
    prompt's TF-IDF energy along the alignment prompt, so task rows that only share a common word
    with it (on the organism, the new skill's word-count rows: c ~ 0.1) weigh little and the
    look-alikes of unsafe prompts (c ~ 0.3-0.7) much. Empty when ``fraction`` is 0 or no task
    prompt shares a word with an alignment prompt.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the task-nearest fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0 or not task or not rows:
        return []
    from alignguard.drift.judges.keyword import KeywordJudge

    judge = KeywordJudge()
    keys = [e for e in rows if judge.is_refusal(e.response)] or list(rows)
    near, cos = nearest_rows([e.prompt for e in task], [e.prompt for e in keys])
    weights = [c * c if i >= 0 else 0.0 for i, c in zip(near, cos, strict=True)]
    if not any(weights):
        return []
    rng = random.Random(seed * 1_000_003 + 15_485_863)
    draws = rng.choices(near, weights=weights, k=round(fraction / (1 - fraction) * len(rows)))
    return [keys[i] for i in draws]
