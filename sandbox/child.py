"""Runs *inside* the sandbox. Standalone on purpose: nothing of the project is mounted there.

Reads /io/in/transform.py and /io/in/input.arrow, calls ``transform(df)``, writes
/io/out/output.arrow and /io/out/status.json. A forged status cannot smuggle anything: the parent
validates the output file itself.
"""

import json
import sys
import traceback


def main() -> int:
    status: dict[str, object] = {"ok": False, "kind": "exception", "message": "did not finish"}
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc

        with open("/io/in/transform.py") as fh:
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
        with ipc.open_file("/io/in/input.arrow") as reader:
            frame = reader.read_all().to_pandas()
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
        except (pa.ArrowException, TypeError, ValueError) as exc:
            status.update(
                kind="result_type", message=f"the result's columns cannot be stored as data: {exc}"
            )
            return 1
        with ipc.new_file("/io/out/output.arrow", table.schema) as writer:
            writer.write_table(table)
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
            with open("/io/out/status.json", "w") as fh:
                json.dump(status, fh)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
