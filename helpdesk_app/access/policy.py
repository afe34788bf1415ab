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
from workflows.labels import check_label, workflow_name

ADMIN_ONLY = frozenset({"audit", "failures"})


class Policy:
    def __init__(self, groups_by_action: Mapping[str, Iterable[str]]) -> None:
        self._groups = {action: tuple(groups) for action, groups in groups_by_action.items()}

    def refusal(self, agent: Agent, action: str) -> str | None:
        """None when `agent` may do `action`; otherwise the reason, written for the agent."""
        if agent.is_admin:
            return None
        name = workflow_name(action)
        if not agent.is_agent:
            return f"{name} is for Zendesk agents only"
        if action in ADMIN_ONLY:
            return f"{name} is for Zendesk admins only"
        groups = self._groups.get(action)
        if not groups or any(_member_of(agent, group) for group in groups):
            return None
        return f"{name} needs membership of {_describe(groups)}"

    def allowed_groups(self, action: str) -> list[str]:
        """The Zendesk groups whose members may do `action`, as the sidebar names them
        ([] when every agent may; admins always may)."""
        if action in ADMIN_ONLY:
            return []
        return [_group_words(group) for group in self._groups.get(action, ())]

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
        label = f"“{check_label(check_id)}”"
        if check_id not in OVERRIDE_EFFECTS:
            return {"check_id": check_id, "workflow": None, "allowed": True, "allowed_groups": [],
                    "message": f"{label}: any agent who may run this workflow may confirm it."}
        workflow, effect = OVERRIDE_EFFECTS[check_id]
        name, groups = workflow_name(workflow), self.allowed_groups(workflow)
        said = f"Overriding {label} has the effect of {name} ({effect})"
        if self.refusal(agent, workflow) is None:
            return {"check_id": check_id, "workflow": workflow, "allowed": True,
                    "allowed_groups": groups,
                    "message": f"{said}; you may run {name}, so you may confirm it."}
        who = f"a member of {_describe(self._groups[workflow])}" if groups else "a Zendesk admin"
        return {"check_id": check_id, "workflow": workflow, "allowed": False,
                "allowed_groups": groups,
                "message": f"{said}, so only an agent who may run {name} may confirm it: "
                           f"{who}. Ask one of them to confirm this plan."}


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


def _group_words(group: str) -> str:
    group = group.strip()
    return f"Zendesk group {group}" if _is_id(group) else group


def _quoted(group: str) -> str:
    group = group.strip()
    return f"id {group}" if _is_id(group) else f"'{group}'"


def _is_id(group: str) -> bool:
    return group.isascii() and group.isdigit()  # str.isdigit alone accepts "²"
