"""`python -m sandbox SCENARIO.json`: serve the sandbox until interrupted.

Prints one JSON line on stdout (the three URLs, and `env`: the service's settings that
point at them, credentials included, since these are the sandbox's own throwaway secrets);
logs go to stderr. A bad scenario or argument: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from sandbox.sandbox import Sandbox
from sandbox.scenario import ScenarioError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox",
                                description="Serve the portal, GitLab and Zendesk sandbox.")
    p.add_argument("scenario", help="a scenario file (sandbox-scenarios.md)")
    p.add_argument("--zendesk-webhook", metavar="URL", help="post signed ticket.created events here")
    p.add_argument("--gitlab-webhook", metavar="URL", help="post Issue Hooks here")
    p.add_argument("--escalation-project", default="support/escalations")
    for name in ("portal", "gitlab", "zendesk"):
        p.add_argument(f"--{name}-port", type=int, default=0, help="default: any free port")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = parser().parse_args(argv)
    ports = {n: getattr(args, f"{n}_port") for n in ("portal", "gitlab", "zendesk")}
    try:
        sandbox = Sandbox.start(args.scenario, zendesk_webhook=args.zendesk_webhook,
                                gitlab_webhook=args.gitlab_webhook,
                                escalation_project=args.escalation_project,
                                ports={k: v for k, v in ports.items() if v})
    except (ScenarioError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps(sandbox.describe(), sort_keys=True), flush=True)
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
