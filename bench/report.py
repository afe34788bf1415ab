"""What a benchmark prints: progress on stderr; tables, then the JSON line last, on stdout."""
from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Iterable, Sequence


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries the table and, last, the JSON line."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    out = [title, line, "  ".join(h.ljust(w) for h, w in zip(headers, widths)), line]
    for r in rows:
        out.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)))
    out.append(line)
    return "\n".join(out)


_NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?( ?(%|s|ms|MB|/s|x))?$")


def _numeric(text: str) -> bool:
    return bool(_NUMBER.match(text))


def kv_table(title: str, pairs: Sequence[tuple[str, Any]]) -> str:
    rows = [(k, fmt(v)) for k, v in pairs]
    width = max(len(k) for k, _ in rows)
    out = [title, "-" * min(100, max(len(title), width + 40))]
    out += [f"{k.ljust(width)}  {v}" for k, v in rows]
    out.append("-" * min(100, max(len(title), width + 40)))
    return "\n".join(out)


def machine_table(info: dict[str, Any]) -> str:
    return kv_table("Machine", [("CPU", info["cpu"]), ("cores (usable)", f"{info['cores']} ({info['cores_usable']})"),
                                ("memory", f"{info['memory_mb']:,} MB"), ("Python", info["python"]),
                                ("kernel", info["kernel"])])


def emit(result: dict[str, Any]) -> None:
    """The last line of every benchmark: one JSON object."""
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=False), flush=True)
