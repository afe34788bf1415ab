"""The web line's start (gunicorn.conf.py): a production start without upstream settings,
or a sandbox on a public interface, stops before any worker starts, with one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def start(app: str, bind: str, **env: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run([str(GUNICORN), "--config", "gunicorn.conf.py", "--bind", bind, app],
                          cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("env, message", [
    ({}, "error: no upstream is configured: set PORTAL_API_URL"),
    ({"PORTAL_API_URL": "https://portal.example.test"}, "error: missing settings for upstream mode: PORTAL_API_TOKEN"),
])
def test_a_production_start_without_upstream_settings_stops_naming_what_is_missing(env, message):
    done = start("wsgi:app", "127.0.0.1:0", **env)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(message)
    assert "Booting worker" not in done.stdout + done.stderr


def test_the_sandbox_never_serves_a_public_interface():
    done = start("sandbox.mode:sandboxed_app()", "0.0.0.0:0", SANDBOX="1")
    assert done.returncode == 2 and "loopback only" in done.stderr
    assert "Booting worker" not in done.stdout + done.stderr
