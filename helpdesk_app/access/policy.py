"""Which agents may do what: Zendesk groups per workflow, checked server-side.

The map comes from the WORKFLOW_POLICY setting (default: settings.DEFAULT_POLICY). Rules:
admins (Zendesk's `admin` role) may do everything; anyone else must be an agent; an action
the map does not name is open to every agent; an action it names needs membership of one
of its groups, each given as a numeric id (a digit string) or a name (compared without
case and surrounding blanks: the setting is typed by hand, and a stray capital must not
lock a team out). `audit` and `failures` (the operator's view) are for admins only,
whatever the map says.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from helpdesk_app.access.agents import Agent
from workflows.checks import OVERRIDE_EFFECTS

ADMIN_ONLY = frozenset({"audit", "failures"})


class Policy:
    def __init__(self, groups_by_action: Mapping[str, Iterable[str]]) -> None:
        self._groups = {action: tuple(groups) for action, groups in groups_by_action.items()}

    def refusal(self, agent: Agent, action: str) -> str | None:
        """None when `agent` may do `action`; otherwise the reason, written for the agent."""
        if agent.is_admin:
            return None
        if not agent.is_agent:
            return f"{action} is for Zendesk agents only"
        if action in ADMIN_ONLY:
            return f"{action} is for Zendesk admins only"
        groups = self._groups.get(action)
        if not groups or any(_member_of(agent, group) for group in groups):
            return None
        return f"{action} needs membership of {_describe(groups)}"

    def override_refusal(self, agent: Agent, override_ids: Iterable[str]) -> tuple[str, str] | None:
        """(the workflow, the reason) when `agent` may not confirm one of these overrides:
        one whose effect is another workflow's needs that workflow's permission."""
        for check_id in override_ids:
            who = self.confirmer(agent, check_id)
            if not who["allowed"]:
                return who["workflow"], who["message"]
        return None

    def confirmer(self, agent: Agent, check_id: str) -> dict[str, Any]:
        """Who may confirm the override `check_id`, for the plan the sidebar shows."""
        if check_id not in OVERRIDE_EFFECTS:
            return {"check_id": check_id, "workflow": None, "allowed": True,
                    "message": f"{check_id}: any agent who may run this workflow may confirm it."}
        workflow, effect = OVERRIDE_EFFECTS[check_id]
        refusal = self.refusal(agent, workflow)
        said = f"{check_id} has {workflow}'s effect ({effect})"
        if refusal is None:
            return {"check_id": check_id, "workflow": workflow, "allowed": True,
                    "message": f"{said}; you may run {workflow}, so you may confirm it."}
        return {"check_id": check_id, "workflow": workflow, "allowed": False,
                "message": f"{said}, so only an agent who may run {workflow} may confirm it: "
                           f"{refusal}. Ask such an agent to confirm this plan."}


def _member_of(agent: Agent, group: str) -> bool:
    wanted = group.strip()
    if _is_id(wanted):
        return int(wanted) in agent.group_ids
    wanted = wanted.casefold()
    return any(name.strip().casefold() == wanted for name in agent.group_names)


def _describe(groups: tuple[str, ...]) -> str:
    names = ", ".join(_quoted(group) for group in groups)
    if len(groups) == 1:
        return f"the Zendesk group {names}"
    return f"one of the Zendesk groups {names}"


def _quoted(group: str) -> str:
    group = group.strip()
    return f"id {group}" if _is_id(group) else f"'{group}'"


def _is_id(group: str) -> bool:
    return group.isascii() and group.isdigit()  # str.isdigit alone accepts "²"
