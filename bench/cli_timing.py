"""The CLI's own time: `plan --scenario` and the sandbox-mode check, as a person runs them.

    python bench/cli_timing.py           # 10 runs of each
    python bench/cli_timing.py --quick   # 3 runs of each

Each run is a new interpreter (`python -m helpdesk_app plan --scenario
sandbox/scenarios/demo.json associate --subscription A-S00000001 --namespace acme
--ticket 101`, and `python -m sandbox.mode mode`, the first step of `make run`), timed from
its start to its exit, with bytecode already compiled (a first run warms it). One more
run of each under `-X importtime` says how much of that is importing, and which packages
cost the most. Goal (issue 19): `plan --scenario` under 1 s.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import cli
import metrics
import report
from checkout import SERVICE_ROOT, clean_env

PLAN = ["-m", "helpdesk_app", "plan", "--scenario", "sandbox/scenarios/demo.json", "associate",
        "--subscription", "A-S00000001", "--namespace", "acme", "--ticket", "101"]
MODE = ["-m", "sandbox.mode", "mode"]
GOAL_S = 1.0


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=SERVICE_ROOT, env=clean_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - start


def imports(argv: list[str]) -> tuple[float, list[tuple[str, float]]]:
    """Seconds spent importing (the top-level imports' cumulative time), and the packages
    whose own modules took the most (their self time, wherever they were imported)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=SERVICE_ROOT,
                          env=clean_env(), capture_output=True, text=True, check=True, timeout=120)
    packages: dict[str, float] = {}
    total = 0.0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        if not cumulative.strip().isdigit():
            continue  # the header
        if not name.startswith("  "):  # a top-level import: its time holds the ones inside
            total += int(cumulative) / 1e6
        top = name.strip().split(".")[0]
        packages[top] = packages.get(top, 0.0) + int(own) / 1e6
    return total, sorted(packages.items(), key=lambda kv: -kv[1])[:8]


def main() -> int:
    parser = cli.common_args(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="runs of each command (default 10, --quick 3)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 10)
    info = metrics.machine_info()
    timed(PLAN), timed(MODE)  # compiles the bytecode; not counted
    plan_s = sorted(timed(PLAN) for _ in range(runs))
    mode_s = sorted(timed(MODE) for _ in range(runs))
    plan_imports, plan_top = imports(PLAN)
    mode_imports, _ = imports(MODE)
    load = os.getloadavg()
    p50 = plan_s[len(plan_s) // 2]
    print(report.machine_table(info))
    print()
    print(report.table(f"CLI wall time, {runs} runs each (load average {load[0]:.2f})",
                       ("command", "min ms", "p50 ms", "max ms", "imports ms (-X importtime)"),
                       [("plan --scenario (associate)", plan_s[0] * 1000, p50 * 1000, plan_s[-1] * 1000,
                         plan_imports * 1000),
                        ("sandbox.mode mode", mode_s[0] * 1000, mode_s[len(mode_s) // 2] * 1000,
                         mode_s[-1] * 1000, mode_imports * 1000)]))
    print()
    print(report.kv_table("plan --scenario: the packages that take longest to import (self time, -X importtime)",
                          [(name, f"{seconds * 1000:.0f} ms") for name, seconds in plan_top]))
    print()
    print(report.kv_table("Goal", [(f"plan --scenario p50 < {GOAL_S:g} s",
                                    f"{p50:.2f} s -> {'met' if p50 < GOAL_S else 'MISSED'}")]))
    report.emit({"plan_scenario_ms_p50": round(p50 * 1000, 1), "plan_scenario_ms_min": round(plan_s[0] * 1000, 1),
                 "mode_check_ms_p50": round(mode_s[len(mode_s) // 2] * 1000, 1),
                 "plan_imports_ms": round(plan_imports * 1000, 1), "mode_imports_ms": round(mode_imports * 1000, 1),
                 "runs": runs, "load_average": [round(x, 2) for x in load],
                 "machine": {"cores": info["cores"], "memory_mb": info["memory_mb"]}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
