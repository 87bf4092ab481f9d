"""Legacy tables as assets: materializing one records its current size and shape."""

import dagster as dg
from psycopg import sql

from agents.db import connect, qualified, scalar, split_name
from migration_assets.keys import legacy_key
from resources.databases import LegacyDatabase
from resources.project import MigrationProject


def build_legacy_asset(table: str, schema: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=legacy_key(table),
        group_name="legacy",
        kinds={"postgres"},
        description=f"Legacy table {table}: row count and columns as they are now.",
    )
    def _legacy(
        context: dg.AssetExecutionContext, legacy_db: LegacyDatabase, project: MigrationProject
    ) -> dg.MaterializeResult:
        with connect(legacy_db.dsn, read_only=True) as conn:
            rows = scalar(
                conn.execute(sql.SQL("SELECT count(*) FROM {}").format(qualified(schema, table)))
            )
            cols = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                split_name(table, schema),
            ).fetchall()
        context.log.info("legacy %s has %d rows", table, rows)
        return dg.MaterializeResult(
            metadata={
                "row_count": dg.MetadataValue.int(int(rows)),
                "dagster/row_count": dg.MetadataValue.int(int(rows)),
                "columns": dg.MetadataValue.md(
                    "\n".join(
                        ["| column | type |", "|---|---|"] + [f"| {c} | {t} |" for c, t in cols]
                    )
                ),
            }
        )

    return _legacy
