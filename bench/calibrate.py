"""Fit the confidence calibration from benchmark records, and say how well it holds.

    .venv/bin/python bench/corpus.py --generated-only --seeds 0:24 --json /tmp/tune.json
    .venv/bin/python bench/calibrate.py /tmp/tune.json [more.json ...]

Reads the per-rule records ``bench/corpus.py --json`` writes (each with the rule's evidence and
whether every cell it wrote was right, and its table pairing's evidence and whether the pairing
was right), fits one logistic model for column rules and one for table pairings
(:func:`agents.matching.calibration.fit`), and writes ``agents/matching/calibration.json``
with where the records came from. Fit on tuning seeds only; then run the benchmark on fresh
seeds to see whether the confidences hold where nothing was fitted.

``--check`` fits nothing: it reports how the current calibration file scores the records.
"""

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.matching import calibration  # noqa: E402
from agents.matching.calibration import Calibrator  # noqa: E402

Record = Mapping[str, object]
BUCKETS = ((0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 0.99), (0.99, 1.01))


def _norm(name: object) -> str:
    return str(name or "").replace('"', "").lower()


def column_records(records: Sequence[Record]) -> list[tuple[dict[str, float], bool]]:
    """Rules the matchers scored: right when every cell the rule wrote (in rows that were
    written) was right; a table that failed to load says nothing about its rules."""
    out = []
    for r in records:
        evidence = r.get("evidence")
        if not isinstance(evidence, dict) or not evidence or r.get("rule_kind") is None:
            continue
        wrong = int(str(r.get("cells_wrong") or 0)) - int(str(r.get("cells_wrong_absent_row") or 0))
        written = int(str(r.get("cells") or 0)) - int(str(r.get("cells_wrong_absent_row") or 0))
        if written <= 0:
            continue
        out.append(({k: float(v) for k, v in evidence.items()}, wrong == 0))
    return out


def table_records(records: Sequence[Record]) -> list[tuple[dict[str, float], bool]]:
    """One per (case, target table) the planner paired from evidence."""
    seen: dict[tuple[str, str], tuple[dict[str, float], bool]] = {}
    for r in records:
        evidence = r.get("table_evidence")
        if not isinstance(evidence, dict) or not evidence or not r.get("table_source"):
            continue
        right = _norm(r.get("table_source")).endswith(_norm(r.get("table_truth_source")))
        seen[(str(r["case"]), str(r["table"]))] = (
            {k: float(v) for k, v in evidence.items()},
            right,
        )
    return list(seen.values())


def table(model: Calibrator | None, rows: Sequence[tuple[dict[str, float], bool]]) -> list[str]:
    """Per confidence bucket: how many proposals, how many right; the review line's effect."""
    conf = [(model.probability(ev) if model else ev.get("score", 0.0), ok) for ev, ok in rows]
    out = ["| confidence | proposals | right | share right |", "|---|---:|---:|---:|"]
    for lo, hi in BUCKETS:
        got = [ok for c, ok in conf if lo <= c < hi]
        if got:
            out.append(
                f"| {lo:.2f}-{min(hi, 1.0):.2f} | {len(got)} | {sum(got)} | "
                f"{sum(got) / len(got):.0%} |"
            )
    if model is not None:
        below = [ok for c, ok in conf if c < model.threshold]
        above = [ok for c, ok in conf if c >= model.threshold]
        out.append(
            f"review line {model.threshold:.3f}: {len(below)} proposals below it "
            f"({len(below) - sum(below)} wrong), {len(above)} above it "
            f"({len(above) - sum(above)} wrong)"
        )
    return out


def main(argv: list[str]) -> None:
    check = "--check" in argv
    files = [a for a in argv if not a.startswith("--")]
    records: list[Record] = [r for f in files for r in json.loads(Path(f).read_text())]
    cases = sorted({str(r["case"]) for r in records})
    kinds = {"column": column_records(records), "table": table_records(records)}
    fitted = []
    for kind, rows in kinds.items():
        if check:
            model = calibration.load(kind)
        elif len({ok for _, ok in rows}) < 2:
            # No wrong (or no right) proposal to learn from: the previous fit stays in the file.
            kept = calibration.load(kind)
            print(
                f"{kind}: {len(rows)} records, all alike: nothing to fit"
                + (f"; keeping the previous fit ({kept.fitted_on})" if kept else "")
            )
            if kept is not None:
                fitted.append(kept)
            continue
        else:
            model = calibration.fit(
                kind,
                rows,
                fitted_on=f"{len(rows)} {kind} proposals from {len(cases)} benchmark cases "
                f"({', '.join(Path(f).name for f in files)})",
            )
            fitted.append(model)
        print(f"{kind}: {len(rows)} proposals, {sum(not ok for _, ok in rows)} wrong")
        if model is not None:
            print(f"  weights {model.weights}, bias {model.bias}")
        for line in table(model, rows):
            print("  " + line)
    if fitted:
        calibration.save(fitted)
        print(f"wrote {calibration.CALIBRATION_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
