"""Load and check a sandbox scenario (/work/shared/design/sandbox-scenarios.md).

`load(source)` takes a path, a JSON string or a dict and returns a new dict in the same
format with every documented default filled in, so the rest of the sandbox never guesses.
Unknown keys are kept and ignored (the format allows them). A malformed scenario raises
`ScenarioError` with one line that names the bad field, e.g.
`portal.subscriptions[1].status: must be one of active, expired, cancelled`.

Sandbox extensions (documented in README.md, all optional): a top-level `faults` list
(rules of `faults.py`, active from the start), a subscription's `locked` (a link answers
409 `read_only`), a customer's `created_at`, a GitLab user's `name`, a ticket's
`comments` (posted after the description) and `custom_fields`, and Zendesk's
`ticket_fields` (the account's custom ticket fields; the one titled "Transaction type" is
the service's ZENDESK_TRANSACTION_TYPE_FIELD_ID, sandbox.py), and a top-level
`service_settings` (the service's settings by environment name, each a string: what sandbox
mode uses unless the environment sets it, sandbox/mode.py).
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import faults

CREATED_AT = "2024-01-01T00:00:00Z"  # customers carry one in the contract; scenarios rarely do
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REQUIRED = object()


class ScenarioError(ValueError):
    """A scenario the sandbox cannot serve; the message names the field."""


@dataclass(frozen=True)
class Field:
    types: tuple[type, ...]
    default: Any = _REQUIRED
    choices: tuple[Any, ...] | None = None
    pattern: re.Pattern[str] | None = None


def _f(*types: type | None, default: Any = _REQUIRED, choices=None, pattern=None) -> Field:
    # `None` among the types means the field may be null.
    return Field(tuple(type(None) if t is None else t for t in types), default, choices, pattern)


# One table per record kind; the defaults are those of sandbox-scenarios.md.
FIELDS: dict[str, dict[str, Field]] = {
    "customer": {
        "id": _f(int), "email": _f(str), "name": _f(str, default=""),
        "company": _f(str, None, default=None), "gitlab_user_id": _f(int, None, default=None),
        "login_activated": _f(bool, default=True), "created_at": _f(str, default=CREATED_AT),
    },
    "subscription": {
        "name": _f(str), "customer_id": _f(int),
        "product": _f(str, default="saas", choices=("saas", "self_managed")),
        "kind": _f(str, default="seats", choices=("seats", "compute_minutes", "storage")),
        "plan_code": _f(str, None, default=None), "seats": _f(int, None, default=None),
        "units": _f(int, None, default=None),
        "status": _f(str, default="active", choices=("active", "expired", "cancelled")),
        "start_date": _f(str, pattern=DATE), "end_date": _f(str, pattern=DATE),
        "channel": _f(str, default="web_direct", choices=(
            "web_direct", "sales_assisted", "reseller", "aws_marketplace", "gcp_marketplace")),
        "program": _f(str, None, default=None, choices=("edu", "oss", "startups", None)),
        "namespace_id": _f(int, None, default=None), "locked": _f(bool, default=False),
    },
    "gitlab_user": {
        "id": _f(int), "username": _f(str), "email": _f(str, None, default=None),
        "is_admin": _f(bool, None, default=False), "name": _f(str, None, default=None),
    },
    "namespace": {
        "id": _f(int), "full_path": _f(str), "kind": _f(str, default="group", choices=("group", "user")),
        "parent_id": _f(int, None, default=None), "plan": _f(str, default="free"),
        "billable_members_count": _f(int, default=0),
        "seats_in_use": _f(int, None, default=None), "max_seats_used": _f(int, None, default=None),
    },
    "member": {"namespace_id": _f(int), "user_id": _f(int), "access_level": _f(int)},
    "group": {"id": _f(int), "name": _f(str)},
    "zendesk_user": {
        "id": _f(int), "email": _f(str, None, default=None), "name": _f(str, default=""),
        "role": _f(str, default="end-user", choices=("end-user", "agent", "admin")),
        "verified": _f(bool, default=True), "group_ids": _f(list, default=[]),
        # Zendesk's user field: which tickets the agent may see (null: all of them).
        "ticket_restriction": _f(str, None, default=None, choices=(
            "groups", "assigned", "requested", "organization", None)),
        "organization_id": _f(int, None, default=None),
    },
    "ticket": {
        "id": _f(int), "subject": _f(str, default=""), "description": _f(str, default=""),
        "requester_id": _f(int),
        "status": _f(str, default="open", choices=("new", "open", "pending", "hold", "solved", "closed")),
        "tags": _f(list, default=[]), "custom_fields": _f(list, default=[]),
        "comments": _f(list, default=[]),
        # Who may see it (an agent's ticket_restriction): its group, assignee, organization.
        "group_id": _f(int, None, default=None), "assignee_id": _f(int, None, default=None),
        "organization_id": _f(int, None, default=None),
    },
    # A custom ticket field of the account (Zendesk's Ticket Fields: a dropdown is `tagger`,
    # each option a display `name` and its tag `value`).
    "ticket_field": {"id": _f(int), "title": _f(str), "type": _f(str, default="tagger"),
                     "custom_field_options": _f(list, default=[])},
    "comment": {"author_id": _f(int, None, default=None), "body": _f(str), "public": _f(bool, default=True)},
}

# (section, list, record kind, unique key)
LISTS = (
    ("portal", "customers", "customer", "id"),
    ("portal", "subscriptions", "subscription", "name"),
    ("gitlab", "users", "gitlab_user", "id"),
    ("gitlab", "namespaces", "namespace", "id"),
    ("gitlab", "members", "member", None),
    ("zendesk", "groups", "group", "id"),
    ("zendesk", "users", "zendesk_user", "id"),
    ("zendesk", "tickets", "ticket", "id"),
    ("zendesk", "ticket_fields", "ticket_field", "id"),
)


def defaults(kind: str) -> dict[str, Any]:
    """The documented defaults of one record kind (tests' in-memory world uses them too)."""
    return {name: copy.deepcopy(f.default) for name, f in FIELDS[kind].items()
            if f.default is not _REQUIRED}


def load(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A checked copy of the scenario with defaults filled in; raises ScenarioError."""
    data = _read(source)
    if not isinstance(data, dict):
        raise ScenarioError("scenario: must be a JSON object")
    scenario = copy.deepcopy(data)
    for section, name, kind, key in LISTS:
        where = f"{section}.{name}"
        part = _section(scenario, section)
        records = part.setdefault(name, [])
        if not isinstance(records, list):
            raise ScenarioError(f"{where}: must be a list")
        part[name] = [record(kind, r, f"{where}[{i}]") for i, r in enumerate(records)]
        if key:
            _unique(part[name], key, where)
    _derived(scenario)
    scenario["faults"] = [faults.parse(rule, f"faults[{i}]", error=ScenarioError)
                          for i, rule in enumerate(_list(scenario.get("faults", []), "faults"))]
    scenario["service_settings"] = _service_settings(scenario.get("service_settings", {}))
    return scenario


SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


def _service_settings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ScenarioError("service_settings: must be an object")
    for name, setting in value.items():
        if not SETTING_NAME.match(name):
            raise ScenarioError(f"service_settings.{name}: is not a setting's environment name")
        if not isinstance(setting, str):
            raise ScenarioError(f"service_settings.{name}: must be a string, as in the environment")
    return dict(value)


def record(kind: str, data: Any, where: str) -> dict[str, Any]:
    """One record checked against FIELDS[kind], defaults filled in, extra keys kept."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: must be an object")
    out = dict(data)
    for name, spec in FIELDS[kind].items():
        if name not in data:
            if spec.default is _REQUIRED:
                raise ScenarioError(f"{where}.{name}: is required")
            out[name] = copy.deepcopy(spec.default)
            continue
        out[name] = _checked(data[name], spec, f"{where}.{name}")
    return out


def _checked(value: Any, spec: Field, where: str) -> Any:
    # bool is an int in Python; an id of `true` is still a mistake.
    if isinstance(value, bool) and bool not in spec.types or not isinstance(value, spec.types):
        names = " or ".join("null" if t is type(None) else _TYPE_NAMES[t] for t in spec.types)
        raise ScenarioError(f"{where}: must be {names}")
    if spec.choices is not None and value not in spec.choices:
        shown = ", ".join("null" if c is None else str(c) for c in spec.choices)
        raise ScenarioError(f"{where}: must be one of {shown}")
    if spec.pattern is not None and isinstance(value, str) and not spec.pattern.match(value):
        raise ScenarioError(f"{where}: must be a date like 2026-01-31")
    return value


_TYPE_NAMES = {int: "an integer", str: "a string", bool: "true or false", list: "a list"}


def _read(source: str | Path | dict[str, Any]) -> Any:
    if isinstance(source, dict):
        return source
    if isinstance(source, Path) or not str(source).lstrip().startswith(("{", "[")):
        try:
            source = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise ScenarioError(f"scenario: cannot read {source}: {error.strerror}") from None
    try:
        return json.loads(source)
    except ValueError as error:
        raise ScenarioError(f"scenario: not JSON ({error})") from None


def _section(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    part = scenario.setdefault(name, {})
    if not isinstance(part, dict):
        raise ScenarioError(f"{name}: must be an object")
    return part


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(f"{where}: must be a list")
    return value


def _unique(records: list[dict[str, Any]], key: str, where: str) -> None:
    seen: set[Any] = set()
    for i, r in enumerate(records):
        if r[key] in seen:
            raise ScenarioError(f"{where}[{i}].{key}: {r[key]!r} is used twice")
        seen.add(r[key])


def _derived(scenario: dict[str, Any]) -> None:
    """Defaults that depend on other fields, and the nested lists."""
    for ns in scenario["gitlab"]["namespaces"]:
        # sandbox-scenarios.md: both default to billable_members_count.
        for name in ("seats_in_use", "max_seats_used"):
            if ns[name] is None:
                ns[name] = ns["billable_members_count"]
    paths = [ns["full_path"].casefold() for ns in scenario["gitlab"]["namespaces"]]
    if len(set(paths)) != len(paths):
        raise ScenarioError("gitlab.namespaces: a full_path is used twice")
    for i, user in enumerate(scenario["zendesk"]["users"]):
        if not all(isinstance(g, int) and not isinstance(g, bool) for g in user["group_ids"]):
            raise ScenarioError(f"zendesk.users[{i}].group_ids: must be a list of integers")
    for i, ticket in enumerate(scenario["zendesk"]["tickets"]):
        where = f"zendesk.tickets[{i}]"
        if not all(isinstance(t, str) for t in ticket["tags"]):
            raise ScenarioError(f"{where}.tags: must be a list of strings")
        ticket["comments"] = [record("comment", c, f"{where}.comments[{j}]")
                              for j, c in enumerate(ticket["comments"])]
