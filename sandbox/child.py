"""Runs *inside* the sandbox. Standalone on purpose: nothing of the project is mounted there.

Reads <root>/in/transform.py and <root>/in/input.arrow (root: /io, or the first argument, which
only the escape suite's unsandboxed detectors use), calls ``transform(df)``, writes the result to
<root>/out/output.arrow and a small flat status to <root>/out/status.json. Both files exist
already (the parent created them); nothing here is trusted by the parent, which checks the files
themselves. Dictionary columns (pandas categoricals) are written as plain values, uncompressed.
"""

import json
import sys
import traceback


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else "/io"
    status: dict[str, object] = {"ok": False, "kind": "exception", "message": "did not finish"}
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        with open(f"{root}/in/transform.py") as fh:
            source = fh.read()
        try:
            code = compile(source, "transform.py", "exec")
        except SyntaxError as exc:
            status.update(kind="syntax", message=f"line {exc.lineno}: {exc.msg}")
            return 1
        namespace: dict[str, object] = {"__name__": "transform"}
        exec(code, namespace)
        fn = namespace.get("transform")
        if not callable(fn):
            status.update(kind="contract", message="the code must define a function transform(df)")
            return 1
        # Mapped, not read: the input's pages are shared with the page cache, not copied.
        with pa.memory_map(f"{root}/in/input.arrow") as source:
            frame = ipc.open_file(source).read_all().to_pandas()
        result = fn(frame)
        import pandas as pd

        if not isinstance(result, pd.DataFrame):
            status.update(
                kind="result_type",
                message=f"transform(df) returned {type(result).__name__}, not a pandas DataFrame",
            )
            return 1
        try:
            table = pa.Table.from_pandas(result, preserve_index=False)
            for i, field in enumerate(table.schema):
                if pa.types.is_dictionary(field.type):
                    plain = table.column(i).cast(field.type.value_type)
                    table = table.set_column(i, field.with_type(field.type.value_type), plain)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            status.update(
                kind="result_type", message=f"the result's columns cannot be stored as data: {exc}"
            )
            return 1
        try:
            with open(f"{root}/out/output.arrow", "wb") as sink:
                with ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
        except OSError as exc:  # the output tmpfs is full (or RLIMIT_FSIZE reached)
            status.update(kind="output_size", message=f"writing the result failed: {exc}")
            return 1
        status = {"ok": True, "rows": table.num_rows}
        return 0
    except MemoryError:
        status.update(kind="memory", message="the transform ran out of memory")
        return 1
    except BaseException as exc:  # report everything the transform raised
        tb = traceback.format_exception(exc)
        status.update(
            kind="exception",
            message=f"{type(exc).__name__}: {exc}"[:500],
            trace="".join(tb[-3:])[-2000:],
        )
        return 1
    finally:
        try:
            with open(f"{root}/out/status.json", "w") as fh:
                json.dump(status, fh)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
