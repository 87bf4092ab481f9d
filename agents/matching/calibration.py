"""Confidence that means something: evidence scores -> probability of being right.

A matcher's raw score (0.75 name + 0.25 type, say) orders candidates but says nothing about how
often a proposal at that score is right. The benchmark does: ``bench/corpus.py --json`` records,
for every proposed rule, its evidence (``ColumnRule.evidence``) and whether it was right, and
``bench/calibrate.py`` fits a logistic model on those records (tuning seeds only) and sets the
review threshold just above the most confident wrong proposal. Both land in
``calibration.json`` beside this module, with the seeds and counts they came from, so the
figures can be re-derived; a fresh-seed run then reports how well they hold.

Without the file (or for evidence it does not know) the raw score is returned: an
uncalibrated confidence, and the plan says so.

>>> c = Calibrator(kind="column", weights={"score": 8.0}, bias=-4.0, threshold=0.9, fitted_on="t")
>>> round(c.probability({"score": 0.5}), 2)
0.5
>>> c.probability({"score": 1.0}) > 0.95
True
"""

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
DEFAULT_THRESHOLD = 0.9  # before any fit: the review line the product always had
L2 = 0.1  # ridge on the weights: a few hundred records must not give extreme coefficients
# Evidence read as a bound, not fitted: ``tied`` counts the other candidates the evidence
# cannot tell apart from the chosen one (agents.matching.assignment.ties); ``guess`` marks a
# candidate proposed below the match threshold, never surer than its own score; ``bare``
# marks a fold whose names never say whose value it is (``notes`` read from a lookup), a
# reading no likelier than the other one, the row's own new column: at most even odds;
# ``outexplained`` marks a pick that another candidate beats on how many of the target's
# words it means (a short name contained in a long one): two readings, at most even odds.
BOUNDS = frozenset({"tied", "guess", "bare", "outexplained"})


@dataclass(frozen=True)
class Calibrator:
    """A logistic model over named evidence, and the review threshold fitted with it."""

    kind: str  # "column" rules or "table" pairings
    weights: dict[str, float]
    bias: float
    threshold: float
    fitted_on: str  # where the records came from: cases, seeds, counts

    def probability(self, evidence: Mapping[str, float]) -> float:
        z = self.bias + sum(w * float(evidence.get(k, 0.0)) for k, w in self.weights.items())
        return bounded(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))), evidence)


def bounded(p: float, evidence: Mapping[str, float]) -> float:
    """A pick among k + 1 candidates that the evidence scores alike is a coin toss among them,
    right at most 1 / (k + 1) of the time, however strong each looks on its own (WordNet makes
    "state" and "country" both a "nation": a perfect name score, twice).

    >>> bounded(0.99, {"tied": 1})
    0.5
    """
    tied = float(evidence.get("tied", 0.0))
    if tied > 0:
        p = min(p, 1.0 / (1.0 + tied))
    if evidence.get("guess"):
        p = min(p, float(evidence.get("score", 0.0)))
    if evidence.get("bare") or evidence.get("outexplained"):
        p = min(p, 0.5)
    return p


def fit(
    kind: str, records: Sequence[tuple[Mapping[str, float], bool]], *, fitted_on: str
) -> Calibrator:
    """Logistic regression (ridge) over the records' evidence; threshold above every wrong one.

    The threshold is the smallest value above the fitted confidence of every wrong proposal in
    the records, so that on the tuning benchmark nothing wrong is left unflagged, and never
    below ``DEFAULT_THRESHOLD``; how many right proposals it also flags is the price, reported
    by the benchmark.
    """
    names = sorted({k for ev, _ in records for k in ev} - BOUNDS)
    x = np.array([[float(ev.get(k, 0.0)) for k in names] for ev, _ in records])
    y = np.array([1.0 if ok else 0.0 for _, ok in records])

    def loss(theta: np.ndarray) -> float:
        z = x @ theta[1:] + theta[0]
        # log(1 + e^z) - y z, computed stably
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + L2 * np.sum(theta[1:] ** 2))

    theta = minimize(loss, np.zeros(len(names) + 1), method="L-BFGS-B").x
    model = Calibrator(
        kind=kind,
        weights={k: round(float(w), 4) for k, w in zip(names, theta[1:], strict=True)},
        bias=round(float(theta[0]), 4),
        threshold=DEFAULT_THRESHOLD,
        fitted_on=fitted_on,
    )
    wrong = [model.probability(ev) for ev, ok in records if not ok]
    above_wrong = min(0.999, math.floor(max(wrong) * 1000 + 1) / 1000) if wrong else 0.5
    # A handful of wrong records (two in 826 at the last fit) cannot place the line lower
    # than the one the product always had with any confidence: it never goes below it.
    threshold = max(above_wrong, DEFAULT_THRESHOLD)
    return Calibrator(**{**asdict(model), "threshold": threshold})


def save(models: Sequence[Calibrator], path: Path = CALIBRATION_FILE) -> None:
    path.write_text(json.dumps({m.kind: asdict(m) for m in models}, indent=1) + "\n")


@lru_cache(maxsize=4)
def load(kind: str, path: Path = CALIBRATION_FILE) -> Calibrator | None:
    """The fitted model for ``kind``, or None before any fit."""
    if not path.exists():
        return None
    data = json.loads(path.read_text()).get(kind)
    return Calibrator(**data) if data else None


def confidence(kind: str, evidence: Mapping[str, float], raw: float) -> float:
    """Calibrated confidence of a proposal, or ``raw`` where nothing is fitted yet."""
    model = load(kind)
    p = model.probability(evidence) if model is not None else bounded(raw, evidence)
    return round(p, 3)


def review_threshold() -> float:
    """Below this a rule or pairing is listed for review: the strictest fitted threshold."""
    fitted = [m.threshold for m in (load("column"), load("table")) if m is not None]
    return max(fitted) if fitted else DEFAULT_THRESHOLD
