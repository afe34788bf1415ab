"""The local sandbox: the portal admin API, GitLab and Zendesk served on loopback from one
scenario file, for the service's real clients (README.md beside this file).

    from sandbox import Sandbox
    with Sandbox.start("sandbox/scenarios/demo.json") as sandbox:
        sandbox.env()  # the service's settings that point it at the sandbox
"""
from __future__ import annotations

from sandbox.faults import Fault
from sandbox.sandbox import Sandbox
from sandbox.scenario import ScenarioError
from sandbox.scenario import load as load_scenario

DEMO_SCENARIO = __path__[0] + "/scenarios/demo.json"

__all__ = ["DEMO_SCENARIO", "Fault", "Sandbox", "ScenarioError", "load_scenario"]
