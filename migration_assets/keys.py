"""Asset keys say where data lives: legacy/<table>, mapping/<table>, target/<table>.

Table names may hold anything PostgreSQL allows (spaces, quotes, ``;``, Unicode, a schema);
Dagster's key components may not. A schema-qualified name becomes two components, and a
component with characters Dagster refuses is spelled with them replaced and a short hash of the
real name appended, so that two names never share a key. The real name stays in each asset's
description and metadata.
"""

import hashlib
import re

import dagster as dg

REPORT_KEY = dg.AssetKey(["migration_report"])
_REFUSED = re.compile(r"[^A-Za-z0-9_]")


def key_component(name: str) -> str:
    """A Dagster-safe, unique spelling of one name.

    >>> key_component("track")
    'track'
    >>> key_component("order details")
    'order_details_8b1e4f0d'
    """
    if not _REFUSED.search(name) and name:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{_REFUSED.sub('_', name).strip('_')[:40]}_{digest}".lstrip("_")


def table_path(table: str) -> list[str]:
    """Key components of a project table name (``schema.table`` gives two)."""
    schema, dot, rest = table.partition(".")
    parts = [schema, rest] if dot else [table]
    return [key_component(p) for p in parts]


def legacy_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["legacy", *table_path(table)])


def mapping_key(target: str) -> dg.AssetKey:
    return dg.AssetKey(["mapping", *table_path(target)])


def target_key(target: str) -> dg.AssetKey:
    return dg.AssetKey(["target", *table_path(target)])


def validation_key(target: str) -> dg.AssetKey:
    """Whole-table validation of a target validated after its load (partitions, cycles)."""
    return dg.AssetKey(["validation", *table_path(target)])
