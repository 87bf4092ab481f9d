"""PostgreSQL's CSV COPY format, read and written with Arrow's C++ CSV engine.

One place for the dialect: an unquoted empty field is NULL, a quoted empty one is the empty
string, values may hold newlines, and a row whose only column is NULL is an empty line that
must not be skipped.
"""

import io

import pyarrow as pa
import pyarrow.csv as pacsv


def read(data: bytes | io.BytesIO, names: list[str]) -> pa.Table:
    """Every column as text, exactly as PostgreSQL printed it."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    return pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )


def write(table: pa.Table) -> bytes:
    """Rows for ``COPY ... FROM STDIN WITH (FORMAT csv)`` (nulls unquoted, strings quoted)."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    return buf.getvalue()
