"""The sandbox's one error type: every failure says, in words, what the code did wrong.

Kinds are a closed set so that nothing the sandboxed code writes can become a category in the
audit table: a kind outside :data:`KINDS` is a bug in the sandbox itself, not a child's choice.
"""

KINDS = frozenset(
    {
        "syntax",  # the code does not compile
        "contract",  # no callable transform(df)
        "exception",  # the transform raised
        "timeout",  # wall-clock or CPU time used up
        "memory",  # the memory limit was reached
        "result_type",  # the result is not a frame of storable, allowed columns
        "columns",  # expected columns are missing
        "row_count",  # row-by-row contract broken
        "output_size",  # the result is larger than allowed (bytes, rows, decoded size)
        "forbidden",  # the code tried something the sandbox refuses
        "exchange",  # the exchange files were tampered with
        "crashed",  # the sandbox died without a usable status
        "unavailable",  # no backend can run here
        "limits",  # the caller asked for limits above the seed's
    }
)


class SandboxError(Exception):
    """Generated code could not be run safely, or its result was refused.

    ``kind`` is one of :data:`KINDS`, stable and machine-readable; the message is plain text in
    which anything that came from the sandboxed code has already been escaped and capped.
    """

    def __init__(self, kind: str, message: str, audit: object | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown SandboxError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.audit = audit
