"""The sandbox's GitLab through the service's real `GitLabAdapter` (python-gitlab), and a
few raw checks of what python-gitlab relies on (auth, pagination headers, error bodies)."""
from __future__ import annotations

import gitlab
import pytest
import requests

from tests.sandbox.sandbox_support import clients_for, start
from tests.scenario_edits import add_user
from workflows.errors import UpstreamError

MARKER = "[lnr:escalation:1:associate]"


def get(sandbox, path, token=None, **params):
    token = token or sandbox.credentials["GITLAB_TOKEN"]
    return requests.get(f"{sandbox.gitlab_url}/api/v4{path}", params=params,
                        headers={"PRIVATE-TOKEN": token}, timeout=5)


# --- namespaces, members, users -------------------------------------------------------


def test_namespaces_by_id_or_path(clients):
    g = clients.gitlab
    acme = g.namespace(500)
    assert (acme.full_path, acme.kind, acme.plan, acme.billable_members_count) == ("acme", "group", "free", 18)
    assert g.namespace("ACME").id == 500  # GitLab paths ignore case
    assert g.namespace("acme/platform").parent_id == 500  # sent URL-encoded as one segment
    assert g.namespace("ada").kind == "user"
    assert g.namespace(999) is None and g.namespace("no-such-group") is None


def test_namespace_payload_is_gitlabs_shape(sandbox):
    body = get(sandbox, "/namespaces/acme%2Fplatform").json()
    assert body["web_url"] == f"{sandbox.gitlab_url}/groups/acme/platform"
    assert (body["seats_in_use"], body["max_seats_used"], body["billable_members_count"]) == (4, 4, 4)
    personal = get(sandbox, "/namespaces/800").json()
    assert "seats_in_use" not in personal and personal["kind"] == "user"


def test_membership_is_inherited_and_one_request(clients, sandbox):
    g = clients.gitlab
    assert g.access_level(500, 100) == 50
    assert g.access_level(501, 100) == 50  # an Owner of acme owns acme/platform
    assert g.access_level(500, 200) is None  # not a member
    assert g.access_level(500, 999) is None  # no such user
    assert g.access_level(800, 100) is None  # a personal namespace is no group
    assert get(sandbox, "/groups/800/members/all/100").json() == {"message": "404 Group Not Found"}


def test_the_owner_of_a_personal_namespace_is_the_user_of_that_name(sandbox):
    assert get(sandbox, "/users/100").json()["namespace_id"] == 800  # `ada` owns namespace `ada`
    assert get(sandbox, "/users/200").json()["namespace_id"] is None


def test_users(clients):
    g = clients.gitlab
    assert g.user(300).is_admin is True and g.user(100).is_admin is False
    assert g.user(999) is None
    assert [u.id for u in g.users_by_email("OWNER@acme.test")] == [100]


def test_is_admin_null_leaves_it_out_as_for_a_token_without_admin_rights(scenario):
    add_user(id=101, username="nobody-knows", email="n@acme.test", is_admin=None)(scenario)
    with start(scenario) as sandbox:
        assert "is_admin" not in get(sandbox, "/users/101").json()
        assert get(sandbox, "/users/300").json()["is_admin"] is True
        assert clients_for(sandbox).gitlab.user(101).is_admin is None


def test_the_user_search_is_fuzzy_and_the_adapter_keeps_exact_emails(scenario, sandbox):
    add_user(id=101, username="owner", email="owner@acme.test.example")(scenario)
    with start(scenario) as fuzzy:
        found = get(fuzzy, "/users", search="owner@acme.test").json()
        assert {u["id"] for u in found} == {100, 101}
        assert [u.id for u in clients_for(fuzzy).gitlab.users_by_email("owner@acme.test")] == [100]


def test_lists_carry_gitlab_pagination_headers(sandbox):
    first = get(sandbox, "/users", search="", per_page=2)
    assert [u["id"] for u in first.json()] == [100, 200]
    assert {k: first.headers[k] for k in ("X-Page", "X-Per-Page", "X-Total", "X-Total-Pages",
                                          "X-Next-Page", "X-Prev-Page")} == {
        "X-Page": "1", "X-Per-Page": "2", "X-Total": "3", "X-Total-Pages": "2",
        "X-Next-Page": "2", "X-Prev-Page": ""}
    assert 'rel="next"' in first.headers["Link"] and first.headers["X-Request-Id"]
    # python-gitlab follows the Link header through every page.
    gl = gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.credentials["GITLAB_TOKEN"])
    assert [u.id for u in gl.users.list(search="", per_page=1, get_all=True)] == [100, 200, 300]


def test_tokens(clients, sandbox):
    assert get(sandbox, "/users/100", token="wrong").status_code == 401
    escalation = sandbox.credentials["GITLAB_ESCALATION_TOKEN"]
    # A project token reaches its project only, as a real one would.
    assert get(sandbox, "/users/100", token=escalation).status_code == 403
    assert get(sandbox, "/projects/support%2Fescalations/issues", token=escalation).status_code == 200
    assert get(sandbox, "/projects/other%2Fproject/issues").status_code == 404
    bad = clients_for(sandbox, GITLAB_TOKEN="wrong").gitlab
    with pytest.raises(UpstreamError) as refused:
        bad.namespace(500)
    assert (refused.value.status, refused.value.transient) == (401, False)


# --- escalation issues ------------------------------------------------------------------


def test_an_escalation_issue_is_created_once_per_marker(clients, sandbox):
    g = clients.gitlab
    issue = g.create_issue("Console escalation: ticket 1", f"It failed.\n\n{MARKER}",
                           labels=["Console Escalation - customers"], marker=MARKER)
    assert (issue["iid"], issue["state"], issue["confidential"]) == (1, "opened", True)
    assert issue["labels"] == ["Console Escalation - customers"]
    assert issue["web_url"] == f"{sandbox.gitlab_url}/support/escalations/-/issues/1"
    assert issue["author"]["username"] == "project_4_bot"  # the escalation token wrote it
    assert g.find_issue_by_marker(MARKER)["iid"] == 1
    assert g.find_issue_by_marker("[lnr:escalation:2:associate]") is None
    note = g.comment_on_issue(1, "Failed again.\n\n[lnr:n:1]", marker="[lnr:n:1]")
    again = g.comment_on_issue(1, "Failed again.\n\n[lnr:n:1]", marker="[lnr:n:1]")
    assert note["id"] == again["id"] and note["noteable_iid"] == 1
    assert sandbox.counters()["issues"] == 1 and sandbox.counters()["issue_notes"] == 1


def test_issues_close_reopen_and_list_by_state_and_text(sandbox, clients):
    clients.gitlab.create_issue("First", f"one {MARKER}", labels=[], marker=MARKER)
    clients.gitlab.create_issue("Second", "two [lnr:other]", labels=[], marker="[lnr:other]")
    gl = gitlab.Gitlab(sandbox.gitlab_url, private_token=sandbox.credentials["GITLAB_TOKEN"])
    project = gl.projects.get("support/escalations", lazy=True)
    issue = project.issues.get(1)
    issue.state_event = "close"
    issue.save()
    assert sandbox.state.issue(1)["state"] == "closed" and sandbox.state.issue(1)["closed_at"]
    assert [i.iid for i in project.issues.list(state="opened", get_all=True)] == [2]
    assert [i.iid for i in project.issues.list(state="closed", get_all=True)] == [1]
    assert [i.iid for i in project.issues.list(search="two", get_all=True)] == [2]
    assert [i.iid for i in project.issues.list(get_all=True)] == [2, 1]  # newest first
    reopened = sandbox.reopen_issue(1)
    assert (reopened["state"], reopened["closed_at"]) == ("opened", None)


def test_issue_errors_are_gitlabs(sandbox, clients):
    auth = {"PRIVATE-TOKEN": sandbox.credentials["GITLAB_TOKEN"]}
    url = f"{sandbox.gitlab_url}/api/v4/projects/4/issues"
    assert requests.post(url, json={"description": "x"}, headers=auth, timeout=5).json() == {
        "error": "title is missing"}
    assert requests.get(url + "/9/notes", headers=auth, timeout=5).status_code == 404
    assert requests.put(url + "/9", json={"state_event": "close"}, headers=auth, timeout=5).json() == {
        "message": "404 Not Found"}
    assert requests.delete(url, headers=auth, timeout=5).status_code == 405
