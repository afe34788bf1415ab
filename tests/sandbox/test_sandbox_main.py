"""`python -m sandbox SCENARIO.json`: one JSON line, then serving until stopped."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

from sandbox import DEMO_SCENARIO

ROOT = Path(__file__).resolve().parents[2]


def run_sandbox(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sandbox", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_it_prints_its_urls_and_credentials_and_serves_them():
    process = run_sandbox(DEMO_SCENARIO)
    try:
        line = process.stdout.readline()
        described = json.loads(line)
        env = described["env"]
        assert described["mode"] == "sandbox" and env["PORTAL_API_URL"] == described["portal_url"]
        answer = requests.get(f"{env['PORTAL_API_URL']}/api/v1/subscriptions/A-S00000001",
                              headers={"Authorization": f"Bearer {env['PORTAL_API_TOKEN']}"}, timeout=5)
        assert answer.json()["customer_id"] == 1
        assert env["ZENDESK_SUBDOMAIN"] == "127" and env["ZENDESK_SCHEME"] == "http"
        assert described["zendesk_url"].endswith(env["ZENDESK_DOMAIN"])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_a_bad_scenario_is_one_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"portal": {"customers": [{"id": "1"}]}}))
    process = run_sandbox(str(bad))
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.strip() == "error: portal.customers[0].id: must be an integer"
