"""Text that came out of the sandbox, made safe to show: escaped and length-capped.

A child's message may carry carriage returns, ANSI escapes or newlines that forge a log line; it
reaches messages, logs and the audit table only through :func:`clean`, so every control
character is visible as an escape and nothing is longer than the cap.
"""

MESSAGE_CAP = 500


def clean(text: object, cap: int = MESSAGE_CAP) -> str:
    """``text`` as printable characters only (others as ``\\xNN``/``\\uNNNN``), at most ``cap``."""
    raw = text if isinstance(text, str) else str(text)
    raw = raw[: cap * 4]  # bound the work before escaping
    out = []
    for ch in raw:
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    joined = "".join(out)
    return joined if len(joined) <= cap else joined[: cap - 1] + "…"


def clean_bytes(data: bytes, cap: int = MESSAGE_CAP) -> str:
    """Captured output (any bytes) as cleaned text; invalid UTF-8 is replaced, not trusted."""
    return clean(data[-cap * 4 :].decode("utf-8", errors="replace").strip(), cap)
