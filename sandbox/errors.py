"""The sandbox's one error type: every failure says, in words, what the code did wrong."""


class SandboxError(Exception):
    """Generated code could not be run safely, or its result was refused.

    ``kind`` is a stable machine-readable category (syntax, timeout, memory, result_type, columns,
    row_count, output_size, forbidden, crashed, exception, unavailable, limits).
    """

    def __init__(self, kind: str, message: str, audit: object | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.audit = audit
