"""Measurement: percentiles and rates of what was recorded, the peak RSS and CPU time of
processes (read from /proc), and a description of the machine the figures came from."""
from __future__ import annotations

import bisect
import contextlib
import math
import os
import platform
import shutil
import threading
from pathlib import Path
from typing import Any, Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def peak_per_window(times: Iterable[float], window_s: float = 60.0) -> int:
    """The most events in any window of `window_s` seconds (windows start at an event)."""
    ordered = sorted(times)
    best = 0
    for i, t in enumerate(ordered):
        j = bisect.bisect_right(ordered, t + window_s - 1e-9)
        best = max(best, j - i)
    return best


def machine_info() -> dict[str, Any]:
    meminfo = _read_kv("/proc/meminfo")
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_mb": round(int(meminfo.get("MemTotal", "0 kB").split()[0]) / 1024),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": bool(shutil.which("wrk")),
    }


def _read_kv(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def children_of(pid: int) -> list[int]:
    """Direct children, from /proc/*/stat (no CONFIG_PROC_CHILDREN needed)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def status_kb(pid: int, key: str) -> int | None:
    value = _read_kv(f"/proc/{pid}/status").get(key)
    return int(value.split()[0]) if value else None


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (its exited children not included)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples VmHWM (the kernel's own peak RSS) of watched processes and their children,
    so a process that exits before the end still counts. `peak_mb(role)` is the largest."""

    def __init__(self, every_s: float = 0.5) -> None:
        self._roots: dict[str, tuple[int, bool]] = {}
        self._peaks: dict[int, tuple[str, int]] = {}
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="peak-rss")
        self._lock = threading.Lock()

    def watch(self, role: str, pid: int, *, children: bool) -> None:
        """`children=True`: the process's children are the ones that count (gunicorn's
        workers under the master); else the process itself."""
        with self._lock:
            self._roots[role + f":{pid}"] = (pid, children)
        self.sample()

    def start(self) -> "PeakRss":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            roots = list(self._roots.items())
        for name, (pid, children) in roots:
            role = name.split(":")[0]
            for target in (children_of(pid) if children else [pid]):
                hwm = status_kb(target, "VmHWM")
                if hwm is not None:
                    with self._lock:
                        old = self._peaks.get(target, (role, 0))[1]
                        self._peaks[target] = (role, max(old, hwm))

    def peak_mb(self, role: str) -> float | None:
        with self._lock:
            values = [kb for r, kb in self._peaks.values() if r == role]
        return round(max(values) / 1024, 1) if values else None
