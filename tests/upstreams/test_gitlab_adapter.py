"""GitLabAdapter against a faked HTTP edge (`responses`): what is sent, and what comes back.

Fixtures in tests/fixtures/gitlab/ are shaped as GitLab's REST API docs show them (values
adapted to the scenarios below):
- get_namespace__group.json, get_namespace__subgroup.json: https://docs.gitlab.com/api/namespaces/
  "Get details on a namespace" (GET /namespaces/:id).
- get_namespace__user.json: same page, the `kind: user` entry of "List all namespaces" (a
  personal namespace has no `max_seats_used`).
- get_group_member_all.json: https://docs.gitlab.com/api/members/ "Get a member of a group
  or project, including inherited and invited members" (GET /groups/:id/members/all/:user_id).
- get_user__admin_view.json: https://docs.gitlab.com/api/users/ "Get a single user", "As an
  administrator" (GET /users/:id).
- list_users__search.json: same page, "List users", "As an administrator" (GET /users).
- post_project_issue.json: https://docs.gitlab.com/api/issues/ "New issue"
  (POST /projects/:id/issues).
- post_issue_note.json: https://docs.gitlab.com/api/notes/ "Create new issue note"
  (POST /projects/:id/issues/:issue_iid/notes); that section shows no response, so the note
  entity is the one of "List project issue notes" on the same page.
- error__404.json: the `{"message": ...}` body of GitLab's `not_found!` (lib/api/helpers.rb),
  see https://docs.gitlab.com/api/rest/troubleshooting/ for the status codes.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.retry import RetryPolicy
from workflows.errors import UpstreamError
from workflows.model import OWNER_ACCESS_LEVEL, GitLabUser, Namespace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitlab"
URL = "https://gitlab.example.com"
API = f"{URL}/api/v4"
TOKEN = "glpat-main-0123456789abcdef"
ESCALATION_TOKEN = "glpat-escalation-fedcba9876543210"
PROJECT = "support/escalations"
ISSUES_URL = f"{API}/projects/support%2Fescalations/issues"
MARKER = "[lnr:escalation:1:associate]"


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps.append, rng=random.Random(7))


@pytest.fixture
def adapter(policy: RetryPolicy) -> GitLabAdapter:
    return GitLabAdapter(
        URL, TOKEN, escalation_project=PROJECT, escalation_token=ESCALATION_TOKEN,
        timeout_s=3.5, retry=policy,
    )


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def main_token():
    return matchers.header_matcher({"PRIVATE-TOKEN": TOKEN})


def escalation_token():
    return matchers.header_matcher({"PRIVATE-TOKEN": ESCALATION_TOKEN})


# --- namespaces ----------------------------------------------------------------------


def test_namespace_by_path_is_url_encoded_and_mapped(adapter, rsps):
    rsps.get(f"{API}/namespaces/acme%2Fplatform", json=fixture("get_namespace__subgroup"),
             match=[main_token()])

    namespace = adapter.namespace("acme/platform")

    assert namespace == Namespace(id=501, full_path="acme/platform", kind="group",
                                  parent_id=500, plan="premium", billable_members_count=5,
                                  max_seats_used=0)
    assert not namespace.is_top_level
    (call,) = rsps.calls
    assert call.request.method == "GET"
    assert call.request.url == f"{API}/namespaces/acme%2Fplatform"
    assert call.request.req_kwargs["timeout"] == 3.5


def test_namespace_by_id_top_level_group(adapter, rsps):
    rsps.get(f"{API}/namespaces/500", json=fixture("get_namespace__group"), match=[main_token()])

    namespace = adapter.namespace(500)

    assert namespace == Namespace(id=500, full_path="acme", kind="group", parent_id=None,
                                  plan="premium", billable_members_count=18, max_seats_used=20)
    assert namespace.is_top_level


def test_personal_namespace_has_no_max_seats_used(adapter, rsps):
    rsps.get(f"{API}/namespaces/ada", json=fixture("get_namespace__user"))

    namespace = adapter.namespace("ada")

    assert (namespace.kind, namespace.full_path, namespace.max_seats_used) == ("user", "ada", None)
    assert namespace.billable_members_count == 1


def test_missing_billable_members_count_means_zero_seats(adapter, rsps):
    payload = fixture("get_namespace__group")
    del payload["billable_members_count"]
    rsps.get(f"{API}/namespaces/500", json=payload)

    assert adapter.namespace(500).billable_members_count == 0


def test_unknown_namespace_is_none(adapter, rsps):
    rsps.get(f"{API}/namespaces/nobody%2Fhere", status=404, json=fixture("error__404"))

    assert adapter.namespace("nobody/here") is None
    assert len(rsps.calls) == 1  # a 404 is a fact, not retried


# --- members ---------------------------------------------------------------------------


def test_access_level_is_exactly_one_request(adapter, rsps):
    rsps.get(f"{API}/groups/500/members/all/100", json=fixture("get_group_member_all"),
             match=[main_token()])

    assert adapter.access_level(500, 100) == OWNER_ACCESS_LEVEL
    assert [c.request.url for c in rsps.calls] == [f"{API}/groups/500/members/all/100"]


def test_access_level_of_a_non_member_is_none(adapter, rsps):
    rsps.get(f"{API}/groups/500/members/all/999", status=404, json=fixture("error__404"))

    assert adapter.access_level(500, 999) is None
    assert len(rsps.calls) == 1


# --- users -----------------------------------------------------------------------------


def test_user_as_admin_view(adapter, rsps):
    rsps.get(f"{API}/users/1", json=fixture("get_user__admin_view"), match=[main_token()])

    assert adapter.user(1) == GitLabUser(id=1, username="john_smith",
                                         email="john@example.com", is_admin=False)


def test_user_without_is_admin_is_unknown_never_not_admin(adapter, rsps):
    # A token without admin rights gets no `is_admin`: v2 reports unknown, not False.
    payload = fixture("get_user__admin_view")
    del payload["is_admin"]
    rsps.get(f"{API}/users/1", json=payload)

    assert adapter.user(1).is_admin is None


def test_user_by_username_is_exact(adapter, rsps):
    found = fixture("get_user__admin_view")
    rsps.get(f"{API}/users", json=[found], match=[main_token(), responses.matchers.query_param_matcher(
        {"username": "John_Smith", "per_page": "1"}, strict_match=False)])

    assert adapter.user_by_username("John_Smith").id == 1


def test_user_by_username_of_nobody_is_none(adapter, rsps):
    rsps.get(f"{API}/users", json=[])

    assert adapter.user_by_username("nobody") is None


def test_deleted_user_is_none(adapter, rsps):
    rsps.get(f"{API}/users/404404", status=404, json=fixture("error__404"))

    assert adapter.user(404404) is None


def test_users_by_email_keeps_exact_matches_only(adapter, rsps):
    rsps.get(
        f"{API}/users", json=fixture("list_users__search"),
        match=[main_token(),
               matchers.query_param_matcher({"search": "JOHN@Example.com", "per_page": "20"})],
    )

    users = adapter.users_by_email("JOHN@Example.com")

    # john_example is a fuzzy hit (name and username) and must not be taken for the requester.
    assert users == [GitLabUser(id=1, username="john_smith", email="john@example.com")]
    assert len(rsps.calls) == 1


def test_users_by_email_matches_public_email(adapter, rsps):
    # A token that is not an admin's sees no `email`; `public_email` is what it can match.
    payload = fixture("list_users__search")
    for user in payload:
        user["public_email"] = user.pop("email")
    rsps.get(f"{API}/users", json=payload)

    assert [u.id for u in adapter.users_by_email("john.example@example.org")] == [2]


def test_users_by_email_without_exact_match_is_empty(adapter, rsps):
    rsps.get(f"{API}/users", json=fixture("list_users__search"))

    assert adapter.users_by_email("john@example.co") == []


# --- error mapping and retries ---------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_http_error_maps_to_upstream_error_without_the_token(adapter, rsps, status):
    rsps.get(f"{API}/users/1", status=status, json={"message": f"{status} Forbidden"},
             headers={"X-Request-Id": "01HREQ-403"})

    with pytest.raises(UpstreamError) as caught:
        adapter.user(1)

    error = caught.value
    assert (error.upstream, error.status, error.request_id) == ("gitlab", status, "01HREQ-403")
    assert error.transient is False
    assert len(rsps.calls) == 1  # not transient: not retried
    for text in (str(error), repr(error), json.dumps(error.to_dict()), repr(adapter)):
        assert TOKEN not in text and ESCALATION_TOKEN not in text


def test_oauth_style_error_code_is_kept(adapter, rsps):
    rsps.get(f"{API}/users/1", status=403,
             json={"error": "insufficient_scope", "error_description": "needs read_api"})

    with pytest.raises(UpstreamError) as caught:
        adapter.user(1)

    assert caught.value.code == "insufficient_scope"


def test_503_then_200_is_retried_with_backoff(adapter, rsps, sleeps):
    url = f"{API}/namespaces/500"
    rsps.get(url, status=503, body="upstream connect error")
    rsps.get(url, json=fixture("get_namespace__group"))

    assert adapter.namespace(500).id == 500
    assert len(rsps.calls) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5  # first backoff ceiling


def test_429_honours_retry_after(adapter, rsps, sleeps):
    url = f"{API}/groups/500/members/all/100"
    rsps.get(url, status=429, body="Retry later\n", headers={"Retry-After": "2"})
    rsps.get(url, json=fixture("get_group_member_all"))

    assert adapter.access_level(500, 100) == 50
    assert len(sleeps) == 1 and sleeps[0] >= 2


def test_python_gitlab_does_not_retry_on_its_own(rsps, sleeps, monkeypatch):
    # With python-gitlab's defaults a 429 is retried (and slept on) inside the library.
    def library_sleep(seconds: float) -> None:
        raise AssertionError(f"python-gitlab slept {seconds}s to retry on its own")

    monkeypatch.setattr("gitlab.utils.time.sleep", library_sleep)
    adapter = GitLabAdapter(URL, TOKEN, escalation_project=PROJECT,
                            retry=RetryPolicy(max_attempts=1, sleep=sleeps.append))
    rsps.get(f"{API}/namespaces/500", status=429, body="Retry later\n",
             headers={"Retry-After": "30", "X-Request-Id": "01HREQ-429"})

    with pytest.raises(UpstreamError) as caught:
        adapter.namespace(500)

    error = caught.value
    assert (error.status, error.transient, error.retry_after) == (429, True, 30.0)
    assert error.request_id == "01HREQ-429"
    assert len(rsps.calls) == 1 and sleeps == []


def test_connection_errors_are_transient_and_retried_to_the_limit(adapter, rsps, sleeps):
    rsps.get(f"{API}/users/1", body=requests.ConnectionError(f"refused: {API}/users/1"))

    with pytest.raises(UpstreamError) as caught:
        adapter.user(1)

    error = caught.value
    assert (error.status, error.transient, error.request_id) == (None, True, None)
    assert len(rsps.calls) == 4 and len(sleeps) == 3
    assert TOKEN not in str(error)


def test_request_ids_are_traced(adapter, rsps):
    rsps.get(f"{API}/namespaces/500", json=fixture("get_namespace__group"),
             headers={"X-Request-Id": "01HREQ-A"})
    rsps.get(f"{API}/groups/500/members/all/100", status=404, json=fixture("error__404"),
             headers={"X-Request-Id": "01HREQ-B"})

    with trace.capture() as ids:
        adapter.namespace(500)
        adapter.access_level(500, 100)

    assert ids == ["gitlab:01HREQ-A", "gitlab:01HREQ-B"]


# --- escalation issues -----------------------------------------------------------------


def create(adapter: GitLabAdapter) -> dict:
    return adapter.create_issue("Console escalation: associate A-S00000001 with acme (ticket 1)",
                                f"The portal refused the change.\n\n{MARKER}",
                                labels=["Console Escalation - customers"], marker=MARKER)


def issue_body() -> dict:
    return {"title": "Console escalation: associate A-S00000001 with acme (ticket 1)",
            "description": f"The portal refused the change.\n\n{MARKER}",
            "labels": ["Console Escalation - customers"], "confidential": True}


def marker_search():
    return matchers.query_param_matcher({"search": MARKER, "in": "description", "per_page": "20"})


def test_create_issue_sends_a_confidential_labelled_issue(adapter, rsps):
    rsps.post(ISSUES_URL, status=201, json=fixture("post_project_issue"),
              match=[escalation_token(), matchers.json_params_matcher(issue_body())])

    issue = create(adapter)

    assert (issue["iid"], issue["state"]) == (14, "opened")
    assert issue["web_url"] == "http://gitlab.example.com/support/escalations/issues/14"
    (call,) = rsps.calls
    assert call.request.method == "POST" and call.request.url == ISSUES_URL
    assert call.request.req_kwargs["timeout"] == 3.5


def test_create_issue_after_a_transient_failure_returns_the_issue_it_left(adapter, rsps):
    rsps.post(ISSUES_URL, status=502, body="Bad Gateway")
    rsps.get(ISSUES_URL, json=[fixture("post_project_issue")],
             match=[escalation_token(), marker_search()])

    issue = create(adapter)

    assert issue["iid"] == 14
    assert [c.request.method for c in rsps.calls] == ["POST", "GET"]  # no second POST


def test_create_issue_reposts_once_when_the_search_finds_nothing(adapter, rsps):
    rsps.post(ISSUES_URL, body=requests.ReadTimeout("read timed out"))
    rsps.get(ISSUES_URL, json=[], match=[marker_search()])
    rsps.post(ISSUES_URL, status=201, json=fixture("post_project_issue"),
              match=[matchers.json_params_matcher(issue_body())])

    assert create(adapter)["iid"] == 14
    assert [c.request.method for c in rsps.calls] == ["POST", "GET", "POST"]


def test_create_issue_business_error_is_not_retried(adapter, rsps):
    rsps.post(ISSUES_URL, status=400, json={"message": {"title": ["is too long"]}})

    with pytest.raises(UpstreamError) as caught:
        create(adapter)

    assert (caught.value.status, caught.value.transient) == (400, False)
    assert len(rsps.calls) == 1


def test_find_issue_by_marker_checks_the_description_exactly(adapter, rsps):
    near_miss = fixture("post_project_issue")
    near_miss["description"] = "lnr escalation 1 associate"  # the search matches words
    rsps.get(ISSUES_URL, status=503, body="")
    rsps.get(ISSUES_URL, json=[near_miss], match=[marker_search()])

    assert adapter.find_issue_by_marker(MARKER) is None
    assert len(rsps.calls) == 2  # a read is retried


def test_comment_on_issue_posts_the_note(adapter, rsps):
    body = "The run failed again.\n\n[lnr:escalation-comment:1:associate:2]"
    rsps.post(f"{ISSUES_URL}/14/notes", status=201, json=fixture("post_issue_note"),
              match=[escalation_token(), matchers.json_params_matcher({"body": body})])

    note = adapter.comment_on_issue(14, body)

    assert (note["id"], note["noteable_iid"]) == (305, 14)


def test_comment_on_issue_is_never_retried(adapter, rsps, sleeps):
    rsps.post(f"{ISSUES_URL}/14/notes", status=503, body="")

    with pytest.raises(UpstreamError) as caught:
        adapter.comment_on_issue(14, "again")

    assert caught.value.transient is True  # the durable executor decides what to do
    assert len(rsps.calls) == 1 and sleeps == []


def test_issue_calls_use_the_main_token_without_an_escalation_token(policy, rsps):
    adapter = GitLabAdapter(URL, TOKEN, escalation_project=4, retry=policy)
    rsps.post(f"{API}/projects/4/issues", status=201, json=fixture("post_project_issue"),
              match=[main_token()])

    assert create(adapter)["iid"] == 14


COMMENT_MARKER = "[lnr:escalation-comment:3:41]"


def issue_notes(*bodies: str) -> list[dict]:
    return [dict(fixture("post_issue_note"), id=400 + n, body=b) for n, b in enumerate(bodies)]


def test_a_comment_whose_marker_is_on_the_issue_is_not_posted_again(adapter, rsps):
    rsps.get(f"{ISSUES_URL}/14/notes", json=issue_notes(f"Failed again.\n\n{COMMENT_MARKER}"),
             match=[matchers.query_param_matcher({"sort": "desc", "order_by": "created_at",
                                                  "per_page": "20"})])

    note = adapter.comment_on_issue(14, f"Failed again.\n\n{COMMENT_MARKER}", marker=COMMENT_MARKER)

    assert note["id"] == 400
    assert [c.request.method for c in rsps.calls] == ["GET"]  # no POST


def test_a_marked_comment_is_retried_only_after_looking_for_it(adapter, rsps, sleeps):
    body = f"Failed again.\n\n{COMMENT_MARKER}"
    rsps.get(f"{ISSUES_URL}/14/notes", json=issue_notes("an engineer's note"))
    rsps.post(f"{ISSUES_URL}/14/notes", status=503, body="")
    rsps.get(f"{ISSUES_URL}/14/notes", json=issue_notes("an engineer's note"))
    rsps.post(f"{ISSUES_URL}/14/notes", status=201, json=fixture("post_issue_note"),
              match=[matchers.json_params_matcher({"body": body})])

    adapter.comment_on_issue(14, body, marker=COMMENT_MARKER)

    assert [c.request.method for c in rsps.calls] == ["GET", "POST", "GET", "POST"]


def test_a_comment_left_by_a_lost_answer_is_adopted(adapter, rsps, sleeps):
    body = f"Failed again.\n\n{COMMENT_MARKER}"
    rsps.get(f"{ISSUES_URL}/14/notes", json=[])
    rsps.post(f"{ISSUES_URL}/14/notes", status=502, body="")  # GitLab posted it, then failed
    rsps.get(f"{ISSUES_URL}/14/notes", json=issue_notes(body))

    note = adapter.comment_on_issue(14, body, marker=COMMENT_MARKER)

    assert note["body"] == body
    assert [c.request.method for c in rsps.calls] == ["GET", "POST", "GET"]
