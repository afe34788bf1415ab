"""workflows/ knows nothing of HTTP, databases or queues: importing it loads none of them."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["workflows", "workflows.notes", "workflows.triage"])
def test_importing_loads_no_web_database_or_http_library(module):
    code = (f"import sys, {module}; "
            "print([m for m in ('flask','sqlalchemy','requests','zenpy','gitlab','helpdesk_app') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
