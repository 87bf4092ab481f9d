"""Global one-to-one selection over a score matrix, with a "no match" option per row.

Greedy pairing (best pair first, then the next best among what is left) lets an early, merely
plausible pair take a column that a later row needed more; the optimal assignment maximises the
total evidence instead, and a row is left unmatched only when no candidate beats the threshold
it would have to clear alone.

>>> assign([[0.9, 0.8], [0.85, 0.1]], threshold=0.5)
{0: 1, 1: 0}
>>> assign([[0.3]], threshold=0.5)
{}
"""

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

TIE = 0.02  # two candidates this close: the evidence does not tell them apart


def assign(scores: Sequence[Sequence[float]], *, threshold: float) -> dict[int, int]:
    """Rows -> columns maximising the summed score; pairs below ``threshold`` are not made
    (a pair exactly at it is)."""
    matrix = np.asarray(scores, dtype=float)
    if matrix.size == 0:
        return {}
    rows, cols = matrix.shape
    # Each row gets its own "no match" column worth exactly the threshold, so a pair is made
    # only where it beats staying unmatched.
    none = np.full((rows, rows), -1e9)
    np.fill_diagonal(none, threshold - 1e-9)
    full = np.hstack([np.where(matrix > 0, matrix, -1e9), none])
    r, c = linear_sum_assignment(full, maximize=True)
    pairs = zip(r.tolist(), c.tolist(), strict=True)
    return {i: j for i, j in pairs if j < cols and matrix[i, j] >= threshold}


def runners_up(scores: Sequence[Sequence[float]], i: int, j: int) -> tuple[float, float]:
    """For the pair (i, j): the best score of row i's other columns and of column j's other
    rows: how clearly the pair won on either side (0 where there is no other)."""
    row = scores[i]
    other_col = max((v for k, v in enumerate(row) if k != j), default=0.0)
    other_row = max((r[j] for k, r in enumerate(scores) if k != i), default=0.0)
    return float(other_col), float(other_row)


def ties(
    scores: Sequence[Sequence[float]], i: int, j: int, *, shared: bool = False, tie: float = TIE
) -> float:
    """How many other candidates of the pair (i, j) the evidence cannot tell from it, counted
    softly: each rival (row i's other columns, and column j's other rows unless columns may be
    ``shared``, as a legacy table is by the targets it is split into) counts
    ``exp(-(score - its score) / tie)``: 1 for an exact tie, 0.37 a ``tie`` behind, nothing
    much beyond a few. Scores are read as carrying noise of about ``tie``, so the chance that
    the pick is the right one among them is at most 1 / (1 + ties) (Luce's choice rule).

    >>> ties([[0.9, 0.9, 0.5], [0.9, 0.2, 0.1]], 0, 0)
    2.0
    >>> ties([[0.9, 0.9, 0.5], [0.9, 0.2, 0.1]], 0, 0, shared=True)
    1.0
    """
    score = scores[i][j]
    rivals = [v for k, v in enumerate(scores[i]) if k != j and v > 0]
    if not shared:
        rivals += [r[j] for k, r in enumerate(scores) if k != i and r[j] > 0]
    soft = sum(math.exp(-max(0.0, score - v) / tie) for v in rivals)
    return round(soft, 3) if soft >= 0.01 else 0.0
