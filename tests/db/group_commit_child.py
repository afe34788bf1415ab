"""The process tests/db/test_group_commit.py kills: sixteen threads record deliveries
through `record_delivery` (group commit) and print each key once it is acknowledged."""
from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from helpdesk_app.engine.deliveries import record_delivery  # noqa: E402
from helpdesk_app.storage.database import make_engine, make_session_factory  # noqa: E402

THREADS = 16


def main(url: str) -> None:
    db = make_session_factory(make_engine(url))
    printing = threading.Lock()

    def deliver() -> None:
        while True:
            key = f"event:{uuid.uuid4()}"
            if record_delivery(db, source="zendesk", key=key, body=b"{}", headers={}) is not None:
                with printing:
                    print(key, flush=True)  # acknowledged: what a 202 would say

    threads = [threading.Thread(target=deliver, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1])
