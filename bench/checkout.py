"""Where the service under test comes from, and the environment it starts with.

Nothing in bench/ edits the service; it only reads what it needs (settings names, the
signing function, the session token issuer), from this checkout.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Where the service under test is run from (gunicorn's, the worker's and the migration's
# working directory): this checkout, or a copy named by BENCH_SERVICE_ROOT, to measure a
# proposed change without touching the checkout. The sandbox always comes from ROOT.
SERVICE_ROOT = Path(os.environ.get("BENCH_SERVICE_ROOT") or ROOT).resolve()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Settings a benchmark must never inherit from the shell that started it.
FOREIGN_ENV = ("PORTAL_", "GITLAB_", "ZENDESK_", "ZENPY_", "DATABASE_URL", "REDIS_URL", "JOB_",
               "SECRET_KEY", "WEB_CONCURRENCY", "PORT", "SWEEP_", "RUN_", "UPSTREAM_", "LOG_LEVEL",
               "AGENT_CACHE_S", "SESSION_TTL_S", "WORKFLOW_POLICY", "TRIAGE_", "VERIFY_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV) and k != "PYTHONPATH"}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env
