"""Planning role: which legacy table feeds which target table, and in what order to load them.

Pairing combines name evidence (after abbreviation/synonym/prefix normalisation) with column
coverage, because a redesign often renames the table but keeps most of its columns. Load order is
a topological sort of the *target's* foreign keys (networkx), so a child is always loaded after
the parents whose UUIDs it must resolve.
"""

from dataclasses import dataclass

import networkx as nx

from agents.errors import PlanningError
from agents.matching import calibration
from agents.matching.assignment import assign, runners_up, ties
from agents.matching.names import names_legacy, word_similarity, words
from agents.models import DatabaseSchema, MigrationPlan, TableInfo, TablePlan
from agents.naming import name_similarity

PAIRING_THRESHOLD = 0.45
SPLIT_COST = 0.15  # a second target fed by one legacy table must beat the other sources by this
TARGET_BATCH_BYTES = 16 * 1024 * 1024


FOLD_WEIGHT = 0.5  # a column found only in a referenced table is half the evidence of its own
NAME_COLUMNS = 4  # the table's name weighs as much as this many of its columns' names: the
# equal blend the pairing always had at four data columns, the size of a small table


def column_coverage(
    target: TableInfo, source: TableInfo, schema: DatabaseSchema | None = None
) -> float:
    """Share of the target's data columns that have a plausible namesake in the source; one
    found only in a table the source references (a lookup's label folded into the row:
    artist_name) counts for less, or every child would cover its parent's columns.

    A column with a default needs no source: it counts only where the source has one (a
    ``created_at DEFAULT now()`` the legacy never had says nothing against it). A column named
    for the legacy id is the source's key by convention, covered where the source has one."""
    wanted = [c for c in target.columns if c.name not in target.primary_key]
    if not wanted:
        return 0.0
    folded: list[str] = []
    if schema is not None:
        for fk in source.foreign_keys:
            if schema.has_table(fk.ref_table) and fk.ref_table != source.name:
                parent = schema.table(fk.ref_table)
                folded += [f"{bare(parent.name)}_{c.name}" for c in parent.columns]
    # A one-to-one extension's columns are the row's own: every one of its rows has this row
    # (the reverse holds for a lookup, whose columns count for less).
    extended = [c for side, _ in extensions(schema, source) for c in side.columns] if schema else []
    covered, counted = 0.0, 0
    for col in wanted:
        own = max(
            (name_similarity(col.name, s.name) for s in [*source.columns, *extended]),
            default=0.0,
        )
        hit = 0.0
        if own >= 0.75 or (names_legacy(col.name) and source.primary_key):
            hit = 1.0
        elif max((name_similarity(col.name, n) for n in folded), default=0.0) >= 0.75:
            hit = FOLD_WEIGHT
        if hit or not col.has_default:
            covered += hit
            counted += 1
    return covered / counted if counted else 0.0


def extensions(schema: DatabaseSchema, table: TableInfo) -> list[tuple[TableInfo, dict[str, str]]]:
    """Tables that extend ``table`` one to one: their reference to it is their own key (or
    unique), so a row of ``table`` has at most one of theirs (publishers and pub_info). With
    each, the link from ``table``'s columns to theirs."""
    out = []
    for other in schema.tables:
        if other.name == table.name:
            continue
        for fk in other.foreign_keys:
            own = [sorted(other.primary_key), *(sorted(u) for u in other.unique)]
            if fk.ref_table == table.name and sorted(fk.columns) in own:
                out.append((other, dict(zip(fk.ref_columns, fk.columns, strict=True))))
                break
    return out


def bare(name: str) -> str:
    """A project table name without its schema: ``HR.EMPLOYEES`` names EMPLOYEES."""
    return name.partition(".")[2] if "." in name else name


def pair_score(
    target: TableInfo, source: TableInfo, schema: DatabaseSchema | None = None
) -> tuple[float, str]:
    name = name_similarity(bare(target.name), bare(source.name), is_table=True)
    coverage = column_coverage(target, source, schema)
    # Each matched column is a piece of evidence and the table's name is one more, worth
    # NAME_COLUMNS columns: a wide table whose columns a legacy table holds nearly all of is
    # that table, whatever the names say (players <- People, not AwardsPlayers); a narrow
    # one leans on its name.
    k = len([c for c in target.columns if c.name not in target.primary_key])
    score = (NAME_COLUMNS * name + k * coverage) / (NAME_COLUMNS + k) if k else name
    return score, f"name similarity {name:.2f}, column coverage {coverage:.0%}"


Pairs = dict[str, tuple[str | None, float, str, dict[str, float]]]  # source, conf, why, evidence


def pair_tables(source: DatabaseSchema, target: DatabaseSchema) -> Pairs:
    """Best source per target table, chosen globally: one score matrix, one assignment with a
    "no match" option, where a legacy table may feed a second target (a split) at a cost;
    targets left unpaired get the structural split proposal (:func:`_splits`). The
    confidence is calibrated from the pair's evidence: its score, and its margin over the next
    candidate on either side."""
    scored = [[pair_score(t, s, source) for s in source.tables] for t in target.tables]
    matrix = [[score for score, _ in row] for row in scored]
    # A legacy table may feed several targets (a split), each one after the first at a cost:
    # sources repeated, every copy past the first a little dearer.
    n = len(source.tables)
    copies = max(1, len(target.tables))
    wide = [[v - (SPLIT_COST if k else 0.0) for k in range(copies) for v in row] for row in matrix]
    chosen = {i: c % n for i, c in assign(wide, threshold=PAIRING_THRESHOLD).items()} if n else {}
    pairs: Pairs = {}
    for i, t in enumerate(target.tables):
        row = matrix[i]
        if i not in chosen:
            best = max(range(len(row)), key=row.__getitem__) if row else None
            note = (
                f"best candidate {source.tables[best].name} ({scored[i][best][1]})"
                if best is not None
                else "no tables"
            )
            pairs[t.name] = (None, row[best] if best is not None else 0.0, note, {})
            continue
        j = chosen[i]
        score, why = scored[i][j]
        other_s, other_t = runners_up(matrix, i, j)
        if other_s > score - 0.05:
            runner = max((k for k in range(len(row)) if k != j), key=row.__getitem__)
            why += f"; runner-up {source.tables[runner].name} scored {other_s:.2f}"
        evidence = {
            "score": score,
            "margin": score - other_s,
            "rival": score - other_t,
            "name": name_similarity(bare(t.name), bare(source.tables[j].name), is_table=True),
            "tied": ties(matrix, i, j, shared=True),
        }
        conf = calibration.confidence("table", evidence, min(score, 0.6 + score - other_s))
        pairs[t.name] = (source.tables[j].name, conf, why, evidence)
    return _splits(source, target, pairs)


def _splits(
    source: DatabaseSchema,
    target: DatabaseSchema,
    pairs: Pairs,
) -> Pairs:
    """Structural evidence for a split: a target no legacy table feeds by name, that
    references a target fed by legacy S, and whose columns S covers, is the part of S the
    redesign moved out (member addresses out of members). Proposed below the review line."""
    out = dict(pairs)
    for t in target.tables:
        if out[t.name][0] is not None:
            continue
        best: tuple[float, str, str] | None = None
        for fk in t.foreign_keys:
            parent_source = out[fk.ref_table][0] if fk.ref_table in out else None
            if parent_source is None or not source.has_table(parent_source):
                continue
            coverage = column_coverage(t, source.table(parent_source))
            if coverage >= 0.5 and (best is None or coverage > best[0]):
                best = (coverage, parent_source, fk.ref_table)
        # A legacy table no target took, holding as much of the target's columns as any split
        # would, is its source by coverage alone (Town <- city: no word links the names). On
        # equal coverage it is the simpler reading: it leaves no legacy table unmigrated and
        # feeds no table twice.
        taken = {p[0] for p in out.values() if p[0]}
        free = [
            (column_coverage(t, s, source), s.name) for s in source.tables if s.name not in taken
        ]
        cov, name = max(free, default=(0.0, ""))
        if cov >= 0.5 and (best is None or cov >= best[0]):
            # No evidence of its own beyond coverage: a guess, bounded by its score.
            evidence = {"coverage": cov, "guess": 1.0, "score": min(0.6, cov)}
            out[t.name] = (
                name,
                calibration.confidence("table", evidence, min(0.6, cov)),
                f"no name links them, but {name} holds {cov:.0%} of {t.name}'s columns and "
                "no other target takes it",
                evidence,
            )
            continue
        if best is not None:
            coverage, legacy, parent = best
            evidence = {"split": 1.0, "coverage": coverage}
            out[t.name] = (
                legacy,
                calibration.confidence("table", evidence, min(0.6, coverage)),
                f"split from {legacy}: {t.name} references {parent}, which {legacy} feeds, and "
                f"{legacy} covers {coverage:.0%} of its columns",
                evidence,
            )
    return out


MERGE_LABEL = 0.9  # a label names a legacy table when a word of each is the same word
# ... and the tables hold this share of the target's columns, or of each other's
MERGE_COVERAGE = 0.5


@dataclass(frozen=True)
class Merge:
    """Several legacy tables united in one target, told apart by a column whose labels name
    them (awards: 'player' <- AwardsPlayers, 'manager' <- AwardsManagers)."""

    column: str
    parts: dict[str, str]  # legacy table -> label
    coverage: float  # the parts' smallest coverage of the target's columns
    alike: float  # ... and their smallest share of columns in common with the first


def _label_fit(label: str, table: str) -> float:
    """How surely a label names a legacy table: its best pair of words."""
    return max(
        (word_similarity(a, b) for a in words(label) for b in words(bare(table), is_table=True)),
        default=0.0,
    )


def same_shape(a: TableInfo, b: TableInfo) -> float:
    """Share of the columns of the wider of two tables that the other has too, by name and
    type: 1.0 for one table's rows kept in two (active and archived)."""
    hits = sum(
        1
        for c in a.columns
        if any(
            d.data_type == c.data_type and name_similarity(c.name, d.name) >= 0.75
            for d in b.columns
        )
    )
    return hits / max(len(a.columns), len(b.columns), 1)


def find_merges(source: DatabaseSchema, target: DatabaseSchema, pairs: Pairs) -> dict[str, Merge]:
    """Structural evidence for a merge: a target column of closed labels (an enum) whose
    labels, assigned globally, name two or more legacy tables, one of them the target's own
    pairing (or none), that hold rows of one kind: each covers the target's columns, or they
    have the same shape (:func:`same_shape`). Two things must agree: the labels say the rows
    come from several tables, and the tables' columns say they are rows of one thing; a
    discriminator alone, or same-shaped tables alone, are no merge."""
    out: dict[str, Merge] = {}
    for t in target.tables:
        paired = pairs[t.name][0]
        for col in t.columns:
            labels = col.enum_labels or []
            if len(labels) < 2:
                continue
            # Of the tables a label names equally well, the one holding the target's columns.
            fits = [
                [
                    fit + 0.1 * column_coverage(t, s, source) if fit >= MERGE_LABEL else 0.0
                    for s in source.tables
                    for fit in [_label_fit(label, s.name)]
                ]
                for label in labels
            ]
            chosen = assign(fits, threshold=MERGE_LABEL)
            parts = {source.tables[j].name: labels[i] for i, j in chosen.items()}
            if len(parts) < 2 or (paired is not None and paired not in parts):
                continue
            # The label column is the merge's own doing: no part holds it.
            rest = t.model_copy(update={"columns": [c for c in t.columns if c.name != col.name]})
            coverage = min(column_coverage(rest, source.table(s), source) for s in parts)
            tables = [source.table(s) for s in parts]
            alike = min(same_shape(tables[0], other) for other in tables[1:])
            # The tables hold rows of one kind: the target's columns, or each other's.
            if max(coverage, alike) < MERGE_COVERAGE:
                continue
            best = out.get(t.name)
            if best is None or (len(parts), coverage) > (len(best.parts), best.coverage):
                out[t.name] = Merge(col.name, parts, coverage, alike)
    return out


def load_order(target: DatabaseSchema) -> tuple[list[str], dict[str, list[str]]]:
    """Targets sorted so that every FK parent comes first, and the references set later.

    Self-references are set after their own table loads (see agents.engine.references). A
    cycle between tables is broken at a foreign key whose columns are nullable: that table
    loads first with the reference empty, and it is set once the parent is in (insert, then
    set). Returns (order, {table: parents whose references to it are set later}).
    """
    graph: nx.DiGraph = nx.DiGraph()
    breakable: dict[tuple[str, str], bool] = {}
    for t in target.tables:
        graph.add_node(t.name)
        for fk in t.foreign_keys:
            if fk.ref_table != t.name and target.has_table(fk.ref_table):
                graph.add_edge(fk.ref_table, t.name)
                nullable = all(t.column(c).nullable for c in fk.columns)
                edge = (fk.ref_table, t.name)
                breakable[edge] = breakable.get(edge, True) and nullable
    later: dict[str, list[str]] = {}
    while True:
        try:
            return list(nx.lexicographical_topological_sort(graph)), later
        except nx.NetworkXUnfeasible:
            cycle = [(a, b) for a, b in nx.find_cycle(graph)]
            options = sorted(e for e in cycle if breakable.get(e))
            if not options:
                raise PlanningError(
                    "the target's foreign keys form a cycle ("
                    + " -> ".join(a for a, _ in cycle)
                    + "), and every one of them is NOT NULL; make one of them nullable so "
                    "that it can be set after both tables are loaded"
                ) from None
            parent, child = options[0]
            graph.remove_edge(parent, child)
            later.setdefault(child, []).append(parent)


def batch_size_for(table: TableInfo) -> int:
    """Rows per committed batch: about 16 MB of row data, between 5k and 200k rows."""
    width = 0
    for col in table.columns:
        width += {
            "integer": 8,
            "numeric": 12,
            "uuid": 16,
            "boolean": 1,
            "date": 4,
            "timestamp": 8,
            "timestamptz": 8,
        }.get(col.data_type, 32)
    return max(5_000, min(200_000, TARGET_BATCH_BYTES // max(width, 1)))


def make_plan(source: DatabaseSchema, target: DatabaseSchema) -> MigrationPlan:
    pairs = pair_tables(source, target)
    merges = find_merges(source, target, pairs)
    for name, m in merges.items():
        # The merge's first part is the pairing's own table when there is one.
        first = pairs[name][0] or max(
            m.parts, key=lambda s: column_coverage(target.table(name), source.table(s), source)
        )
        # Structure, not a fitted kind of evidence: bounded like a guess, so always reviewed.
        evidence = {
            "merge": 1.0,
            "coverage": m.coverage,
            "guess": 1.0,
            "score": min(0.6, m.coverage),
        }
        pairs[name] = (
            first,
            calibration.confidence("table", evidence, min(0.6, m.coverage)),
            f"merge of {', '.join(m.parts)}: the labels of {name}.{m.column} name them "
            f"({', '.join(f'{label} <- {s}' for s, label in m.parts.items())}); each "
            f"covers at least {m.coverage:.0%} of its columns, and they share at least "
            f"{m.alike:.0%} of theirs",
            evidence,
        )
    order, later = load_order(target)
    tables = []
    warnings = []
    for name in order:
        t = target.table(name)
        src, conf, why, evidence = pairs[name]
        deps = sorted(
            {
                fk.ref_table
                for fk in t.foreign_keys
                if fk.ref_table != name
                and target.has_table(fk.ref_table)
                and fk.ref_table not in later.get(name, [])
            }
        )
        src_info = source.table(src) if src else None
        tables.append(
            TablePlan(
                target=name,
                source=src,
                depends_on=deps,
                set_after=sorted(later.get(name, [])),
                rows_estimate=src_info.row_count if src_info else 0,
                batch_size=batch_size_for(src_info) if src_info else 50_000,
                confidence=conf,
                rationale=why,
                evidence={k: round(v, 4) for k, v in evidence.items()},
                merge=merges[name].parts if name in merges else {},
                merge_column=merges[name].column if name in merges else None,
            )
        )
        if src is None:
            warnings.append(
                f"no legacy table clearly feeds {name} ({why}); it will stay empty "
                "unless you name a source in its mapping file"
            )
    used = {tp.source for tp in tables if tp.source} | {s for tp in tables for s in tp.merge}
    unmapped = sorted(s.name for s in source.tables if s.name not in used)
    sides = {
        side.name: table
        for table in used
        if source.has_table(table)
        for side, _ in extensions(source, source.table(table))
    }
    warnings.extend(
        f"legacy table {s} extends {sides[s]} one to one: its columns are offered to the "
        f"targets {sides[s]} feeds, and migrated only where a mapping reads them"
        if s in sides
        else f"legacy table {s} is not migrated anywhere; check that this is intended"
        for s in unmapped
    )
    return MigrationPlan(
        order=order,
        tables=tables,
        unmapped_sources=unmapped,
        warnings=warnings,
        review_threshold=calibration.review_threshold(),
    )
