"""Static checks on generated code before it is ever run (it then runs only in the sandbox).

Defence in depth, not the boundary: the sandbox contains what slips through. The checks catch
what a reviewer should never have to read: syntax errors, a missing ``transform``, imports
outside the data libraries, and calls that reach for the outside world.
"""

import ast

ALLOWED_IMPORTS = frozenset({"pandas", "numpy", "re", "datetime", "math", "decimal"})
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "exec",
        "eval",
        "compile",
        "__import__",
        "input",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
    }
)


def problems(code: str) -> str | None:
    """None when the code may be tried in the sandbox, else why not."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return f"syntax error on line {exc.lineno}: {exc.msg}"
    if not any(isinstance(n, ast.FunctionDef) and n.name == "transform" for n in tree.body):
        return "the code does not define transform(df)"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            mods = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            bad = [m for m in mods if m.split(".")[0] not in ALLOWED_IMPORTS]
            if bad:
                return f"imports {bad} are not allowed; use only {sorted(ALLOWED_IMPORTS)}"
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            return f"'{node.id}' is not allowed in a transform"
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            return f"dunder attribute access ('{node.attr}') is not allowed"
    return None
