"""Scenario files (sandbox-scenarios.md): documented defaults, extra keys, clear errors."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from sandbox import DEMO_SCENARIO, ScenarioError, load_scenario
from sandbox.payloads import TEMPLATES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

MINIMAL = {
    "portal": {
        "customers": [{"id": 1, "email": "owner@acme.test"}],
        "subscriptions": [{"name": "A-S00000001", "customer_id": 1, "plan_code": "premium",
                           "seats": 20, "start_date": "2026-01-01", "end_date": "2027-01-01"}],
    },
    "gitlab": {
        "users": [{"id": 100, "username": "ada", "email": "owner@acme.test"}],
        "namespaces": [{"id": 500, "full_path": "acme", "billable_members_count": 18},
                       {"id": 501, "full_path": "acme/x", "billable_members_count": 2,
                        "max_seats_used": 9, "parent_id": 500}],
        "members": [{"namespace_id": 500, "user_id": 100, "access_level": 50}],
    },
    "zendesk": {
        "users": [{"id": 9100, "email": "owner@acme.test"}],
        "tickets": [{"id": 1, "requester_id": 9100}],
    },
}


def test_omitted_fields_take_the_documented_defaults():
    s = load_scenario(MINIMAL)
    sub = s["portal"]["subscriptions"][0]
    assert {k: sub[k] for k in ("status", "product", "kind", "channel", "program", "namespace_id")} == {
        "status": "active", "product": "saas", "kind": "seats", "channel": "web_direct",
        "program": None, "namespace_id": None}
    customer = s["portal"]["customers"][0]
    assert (customer["login_activated"], customer["gitlab_user_id"]) == (True, None)
    assert s["gitlab"]["users"][0]["is_admin"] is False
    acme, sub_group = s["gitlab"]["namespaces"]
    assert (acme["kind"], acme["parent_id"], acme["plan"]) == ("group", None, "free")
    assert (acme["seats_in_use"], acme["max_seats_used"]) == (18, 18)  # from billable_members_count
    assert (sub_group["seats_in_use"], sub_group["max_seats_used"]) == (2, 9)  # stated wins
    user = s["zendesk"]["users"][0]
    assert (user["role"], user["verified"], user["group_ids"]) == ("end-user", True, [])
    ticket = s["zendesk"]["tickets"][0]
    assert (ticket["status"], ticket["tags"]) == ("open", [])


def test_missing_sections_are_empty_and_the_input_is_not_changed():
    given = {"portal": {"customers": []}}
    s = load_scenario(given)
    assert s["gitlab"]["users"] == [] and s["zendesk"]["tickets"] == [] and s["faults"] == []
    assert given == {"portal": {"customers": []}}


def test_extra_keys_are_allowed_and_kept():
    scenario = copy.deepcopy(MINIMAL)
    scenario["notes"] = "for humans"
    scenario["portal"]["subscriptions"][0]["sales_rep"] = "Pat"
    s = load_scenario(scenario)
    assert s["notes"] == "for humans"
    assert s["portal"]["subscriptions"][0]["sales_rep"] == "Pat"


def edit(path: str, value):
    """A copy of MINIMAL with one value set (or removed, for `...`) at a dotted path."""
    scenario = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    target = scenario
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is ...:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return scenario


@pytest.mark.parametrize("path, value, message", [
    ("portal.subscriptions.0.status", "actve",
     "portal.subscriptions[0].status: must be one of active, expired, cancelled"),
    ("portal.subscriptions.0.seats", "20", "portal.subscriptions[0].seats: must be an integer or null"),
    ("portal.subscriptions.0.start_date", ..., "portal.subscriptions[0].start_date: is required"),
    ("portal.subscriptions.0.end_date", "next year", "portal.subscriptions[0].end_date: must be a date"),
    ("portal.customers.0.id", True, "portal.customers[0].id: must be an integer"),
    ("portal.customers.0.login_activated", "yes", "portal.customers[0].login_activated: must be true or false"),
    ("portal.customers", {}, "portal.customers: must be a list"),
    ("gitlab.namespaces.0.kind", "project", "gitlab.namespaces[0].kind: must be one of group, user"),
    ("gitlab.members.0.access_level", ..., "gitlab.members[0].access_level: is required"),
    ("zendesk.users.0.role", "owner", "zendesk.users[0].role: must be one of end-user, agent, admin"),
    ("zendesk.users.0.group_ids", ["1"], "zendesk.users[0].group_ids: must be a list of integers"),
    ("zendesk.tickets.0.requester_id", ..., "zendesk.tickets[0].requester_id: is required"),
    ("zendesk.tickets.0.tags", [1], "zendesk.tickets[0].tags: must be a list of strings"),
    ("zendesk", [], "zendesk: must be an object"),
    ("faults", [{"status": 700}], "faults[0].status: must be an error status"),
    ("faults", [{"status": 500, "delay": 1}], "faults[0]: needs exactly one of"),
    ("faults", [{"status": 500, "tims": 2}], "faults[0].tims: is not a fault key"),
])
def test_a_malformed_scenario_names_the_field(path, value, message):
    with pytest.raises(ScenarioError) as raised:
        load_scenario(edit(path, value))
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("path, value, message", [
    ("portal.customers", [{"id": 1, "email": "a@x"}, {"id": 1, "email": "b@x"}],
     "portal.customers[1].id: 1 is used twice"),
    ("gitlab.namespaces.1.full_path", "ACME", "gitlab.namespaces: a full_path is used twice"),
])
def test_ids_are_unique(path, value, message):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_scenario(edit(path, value))


def test_a_file_or_a_json_string_loads_and_bad_json_is_one_line(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(MINIMAL))
    assert load_scenario(path) == load_scenario(str(path)) == load_scenario(json.dumps(MINIMAL))
    path.write_text("{not json")
    with pytest.raises(ScenarioError, match="^scenario: not JSON"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="^scenario: cannot read"):
        load_scenario(tmp_path / "missing.json")
    with pytest.raises(ScenarioError, match="^scenario: must be a JSON object"):
        load_scenario("[]")


def test_faults_in_a_scenario_are_parsed():
    s = load_scenario({**MINIMAL, "faults": [{"upstream": "portal", "method": "put", "status": 503,
                                              "times": None}]})
    (fault,) = s["faults"]
    assert (fault.upstream, fault.method, fault.status, fault.times) == ("portal", "PUT", 503, None)


def test_the_demo_scenario_loads():
    s = load_scenario(DEMO_SCENARIO)
    assert len(s["zendesk"]["tickets"]) >= 12 and len(s["faults"]) == 1


def test_payload_templates_are_the_vendor_fixtures_unchanged():
    """The sandbox's templates and the adapters' fixtures are one shape, kept in two places
    because the package cannot read tests/: this keeps them identical."""
    templates = sorted(TEMPLATES.glob("*/*.json"))
    assert len(templates) >= 15
    for template in templates:
        fixture = FIXTURES / template.parent.name / template.name
        assert json.loads(template.read_text()) == json.loads(fixture.read_text()), template.name
