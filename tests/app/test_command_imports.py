"""Issue 19, item 5: a command imports only what it uses.

`python -m helpdesk_app plan --scenario ...` and `python -m sandbox.mode mode` (`make run`'s
first step) run in a subprocess as a person runs them, under `-X importtime`, which names on
stderr every module the interpreter imported, lazily imported ones included. Neither may
import the migration machinery (Alembic) or a templating engine (Mako, Pygments, Jinja2),
nor Flask (neither serves a web app), nor SQLAlchemy (neither stores anything: a scenario's
audit records are kept in memory). Structural, not timed: bench/cli_timing.py measures.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import DEMO_SCENARIO

ROOT = Path(__file__).resolve().parents[2]
# Top-level packages that neither command may load.
UNUSED = ("alembic", "mako", "pygments", "jinja2", "flask", "werkzeug", "sqlalchemy")


def imported(*argv: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `python -X importtime ARGV`; its result and every module it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=120,
                          env=env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    # "import time: <self us> | <cumulative us> | <indent><module>"
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and line.count("|") == 2}
    modules.discard("package")  # the header line's last column
    return done, modules


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_a_scenario_plan_imports_no_migration_templating_web_or_database_machinery():
    done, modules = imported("-m", "helpdesk_app", "plan", "--scenario", DEMO_SCENARIO, "associate",
                             "--subscription", "A-S00000001", "--namespace", "acme")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["workflow"] == "associate"
    # The probe sees what the command did load: the clients it planned through.
    assert {"helpdesk_app.cli.plan_and_run", "zenpy", "gitlab", "requests", "sandbox"} <= modules
    assert {p: loaded(modules, p) for p in UNUSED if loaded(modules, p)} == {}


def test_the_sandbox_mode_check_imports_no_migration_templating_web_or_database_machinery():
    done, modules = imported("-m", "sandbox.mode", "mode")
    assert (done.returncode, done.stdout) == (0, "sandbox\n")
    assert "helpdesk_app.settings" in modules
    assert {p: loaded(modules, p) for p in UNUSED if loaded(modules, p)} == {}


@pytest.mark.parametrize("argv", [("-c", "import helpdesk_app.app"), ("-m", "helpdesk_app.storage.migrate")])
def test_the_probe_sees_them_where_they_are_used(argv, tmp_path):
    # The web app imports Flask, Jinja2 and SQLAlchemy, and the release step Alembic with
    # Mako: the probe would see them in the commands above.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}
    done, modules = imported(*argv, env=env)
    expected = ("flask", "jinja2", "sqlalchemy") if argv[0] == "-c" else ("alembic", "mako", "sqlalchemy")
    assert all(loaded(modules, p) for p in expected), done.stderr[-2000:]
