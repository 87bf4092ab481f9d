"""Prompts for the LLM backend, one constant per question.

They carry the schema and a bounded sample of values, never connection details. Replies must be
JSON matching the pydantic model named in each prompt's caller; anything else is re-asked.
"""

CLASSIFY_VALUES_SYSTEM = """\
You map legacy database codes to the labels of a target enum type. Answer only from evidence in
the values and their context. If a value has no clear label, answer null with a low confidence;
never invent labels. Reply with JSON only."""

CLASSIFY_VALUES_USER = """\
Target column: {target_table}.{target_column} (enum labels: {labels})
Legacy column: {source_table}.{source_column}
Other columns of the legacy table: {context_columns}

Map each legacy value below to one label or null. Context text seen in the same rows follows
each value after "|" when there is any.
{values}

Reply as {{"items": [{{"value": ..., "label": ... or null, "confidence": 0..1,
"rationale": "..."}}]}} covering every value exactly once."""

MATCH_COLUMNS_SYSTEM = """\
You rerank candidate legacy columns for columns of a redesigned table. Each target column comes
with a short list of candidates the matchers found, with their evidence score and sample values;
legacy names are often abbreviated (cust_nm, email_addr, created_ts). Choose one candidate from
that column's own list, or null if none fits. Reply with JSON only."""

MATCH_COLUMNS_USER = """\
Target table {target_table}, fed by legacy table {source_table}.
Target columns to settle, each with its candidates (name, type, evidence, sample values):
{target_columns}

Reply as {{"items": [{{"target": ..., "source": ... or null, "confidence": 0..1,
"rationale": "..."}}]}} with one item per target column listed."""

WRITE_CODE_SYSTEM = """\
You write small, pure pandas transforms for a database migration. The code must define
`transform(df)` that takes a DataFrame of legacy rows (all values are strings or None) and
returns a DataFrame with exactly the requested target column, one output row per input row, in
the same order. Use only pandas, numpy, re, datetime, math and decimal. No I/O, no network, no
environment access. Reply with JSON only."""

WRITE_CODE_USER = """\
Target column: {target_table}.{target_column} ({target_type}), required.
Legacy table {source_table}; columns with sample values:
{source_columns}

Reply as {{"code": "<python source>", "rationale": "..."}}."""
