"""report_run and escalate against Zendesk and GitLab faked at the HTTP edge, on SQLite and
PostgreSQL: what is sent, and that a repeat sends nothing twice."""
from __future__ import annotations

import copy
import re
import threading

import pytest
from sqlalchemy import select

import workflows
from helpdesk_app import create_app
from helpdesk_app.engine.postback import escalate, open_escalation, report_run
from helpdesk_app.settings import Settings
from helpdesk_app.storage.models import Escalation, Run, RunEvent
from tests.app.test_settings import UPSTREAM_ENV
from tests.conftest import BASE
from tests.scenario_edits import namespace, sub
from tests.upstream_fakes import (
    CREATED_AT,
    ISSUES_URL,
    ZENDESK_API,
    FakeGitLab,
    sent,
    writes,
)
from tests.world import World
from workflows import Confirmation, Decision, OutcomeStatus, UpstreamError, notes

TICKET = 1
FIELD_ID = 360001
ASSOC = {"subscription": "A-S00000001", "namespace": "acme", "ticket": TICKET}
AGENT = {"name": "Agent Smith", "email": "agent@vendor.test"}
LABEL = "Console Escalation - customers"


@pytest.fixture
def services(migrated_url):
    env = {**UPSTREAM_ENV, "DATABASE_URL": migrated_url,
           "ZENDESK_TRANSACTION_TYPE_FIELD_ID": str(FIELD_ID),
           "UPSTREAM_BACKOFF_BASE_S": "0.001", "UPSTREAM_BACKOFF_CAP_S": "0.001"}
    services = create_app(Settings.from_env(env)).extensions["helpdesk"]
    yield services
    services.db.kw["bind"].dispose()


@pytest.fixture
def gitlab(http):
    return FakeGitLab().install(http)


def outcome_of(scenario_edits=(), workflow="associate", inputs=ASSOC, fail=None,
               confirmation=Confirmation(decision=Decision.READY)):
    scenario = copy.deepcopy(BASE)
    for edit in scenario_edits:
        edit(scenario)
    world = World(scenario)
    if fail is not None:
        world.failures["link_subscription"] = fail
    return workflows.execute(workflow, world.ports, inputs, confirmation=confirmation,
                             idempotency_key="k", clock=lambda: 0.0, sleep=lambda s: None)


def stored_run(services, outcome, *, ticket_id=TICKET, events=("run.queued", "run.started")) -> Run:
    """A run row as the executor leaves it: outcome committed, state set, events loaded."""
    n = len(events_of(services)) + 1
    with services.db() as session:
        run = Run(workflow=outcome.workflow, ticket_id=ticket_id, inputs=dict(ASSOC),
                  plan=outcome.plan.to_dict(), decision="ready", override_ids=[],
                  override_reason="customer confirmed by email", agent_id=9000, agent=AGENT,
                  idempotency_key=f"idem-{n}-{id(outcome)}", request_hash="0" * 64,
                  state=str(outcome.status), outcome=outcome.to_dict())
        for kind in events:
            run.record(kind, {"attempt": 1})
        session.add(run)
        session.commit()
        run.events  # loaded before the session closes
        return run


def events_of(services, kind=None) -> list[RunEvent]:
    with services.db() as session:
        query = select(RunEvent).order_by(RunEvent.id)
        if kind:
            query = query.where(RunEvent.kind == kind)
        return list(session.scalars(query))


def escalations(services) -> list[Escalation]:
    with services.db() as session:
        return list(session.scalars(select(Escalation).order_by(Escalation.id)))


def ticket_url(ticket_id=TICKET) -> str:
    return f"{ZENDESK_API}/tickets/{ticket_id}.json"


def comment_put(body: str, ticket_id=TICKET) -> tuple:
    return ("PUT", ticket_url(ticket_id),
            {"ticket": {"id": ticket_id, "comment": {"body": body, "public": False}}})


def result_put(body: str, workflow="associate", field=True, stamp=CREATED_AT, tags=()) -> tuple:
    """A succeeded run's one ticket update: note, tags, transaction type, Pending."""
    ticket = {"id": TICKET, "comment": {"body": body, "public": False},
              "tags": [*tags, f"lnr_{workflow}"], "status": "pending",
              "safe_update": True, "updated_stamp": stamp}
    if field:
        ticket["custom_fields"] = [{"id": FIELD_ID, "value": "associate_namespace"}]
    return ("PUT", ticket_url(), {"ticket": ticket})


@pytest.fixture(autouse=True)
def ticket(zendesk):
    """The ticket the runs report to, as Show Ticket answers it."""
    zendesk.serve_ticket(TICKET)


# -- success, noop, superseded ---------------------------------------------------------------


def test_success_posts_the_note_tags_transaction_type_and_pending(services, http, zendesk):
    outcome = outcome_of()
    run = stored_run(services, outcome)

    assert report_run(services, run, outcome) is None

    marker = services.marker("run", run.id)
    note = notes.success_note(outcome, mode="upstream", marker=marker)
    assert writes(http) == [result_put(note)]  # one of Zendesk's ticket updates, not four
    assert http.calls[0].request.method == "GET"  # the marker was looked for first
    assert note.endswith(marker)
    assert "https://gitlab.com/groups/acme/-/billings" in note
    assert "- Plan of acme: Free → Premium" in note


def test_a_repeated_report_posts_no_second_note(services, http, zendesk):
    outcome = outcome_of()
    run = stored_run(services, outcome)
    report_run(services, run, outcome)
    first = len(http.calls)

    report_run(services, run, outcome)

    again = [(c.request.method, c.request.url, sent(c)) for c in http.calls[first:]]
    assert {url.split("?")[0] for _, url, _ in again} == {
        f"{ZENDESK_API}/tickets/{TICKET}/comments.json", ticket_url()}
    assert [w for w in again if w[0] != "GET"] == []  # the ticket holds it all already
    assert len(zendesk.notes(TICKET)) == 1


def test_noop_twice_posts_one_note_keyed_by_the_inputs(services, http, zendesk):
    # v2: noop needs GitLab to show the linked plan too.
    outcome = outcome_of([sub("A-S00000001", namespace_id=500), namespace(500, plan="premium")])
    assert outcome.status is OutcomeStatus.SUCCEEDED and not outcome.changed
    for _ in range(2):  # a double click: two runs, the same inputs
        report_run(services, stored_run(services, outcome), outcome)

    (note,) = zendesk.notes(TICKET)
    assert re.search(r"\[lnr:noop:associate:[0-9a-f]{12}:[0-9a-f]{16}\]$", note)  # key, MAC
    assert "nothing to do" in note
    assert writes(http) == [result_put(note)]  # the second run's update found it all there


def test_an_unmapped_workflow_sets_no_transaction_type(services, http, zendesk):
    # A lapsed subscription: clearing an active one needs an override (v2).
    outcome = outcome_of([sub("A-S00000001", namespace_id=500, status="expired")], workflow="clear_subscription",
                         inputs={"subscription": "A-S00000001", "ticket": TICKET})
    run = stored_run(services, outcome)

    report_run(services, run, outcome)

    note = zendesk.notes(TICKET)[0]
    assert writes(http) == [result_put(note, "clear_subscription", field=False)]
    assert "- Group of A-S00000001: acme → —" in note


def test_an_update_made_meanwhile_is_kept_and_the_result_sent_once(services, http, zendesk):
    zendesk.serve_ticket(TICKET, tags=["vip"], custom_fields=[{"id": 77, "value": "x"}])
    zendesk.races = 1  # an agent's update lands between the service's read and its update
    outcome = outcome_of()
    run = stored_run(services, outcome)

    report_run(services, run, outcome)

    note = zendesk.notes(TICKET)[0]
    refused, made = writes(http)
    assert refused == result_put(note, tags=["vip"])  # 409: nothing of it was applied
    assert made == result_put(note, tags=["vip"], stamp="2026-06-15T10:01:00Z")
    assert zendesk.tickets[TICKET]["tags"] == ["vip", "lnr_associate"]
    assert len(zendesk.notes(TICKET)) == 1


def test_superseded_notes_the_new_plan_and_changes_nothing_else(services, http, zendesk):
    outcome = outcome_of([sub("A-S00000001", status="expired")],
                         confirmation=Confirmation(decision=Decision.READY))
    assert outcome.status is OutcomeStatus.SUPERSEDED
    run = stored_run(services, outcome)

    assert report_run(services, run, outcome) is None

    (note,) = zendesk.notes(TICKET)
    assert writes(http) == [comment_put(note)]
    assert "The new plan: Blocked." in note
    assert "- Blocked: Subscription is active (subscription_active):" in note and "confirm again" in note
    assert note.endswith(services.marker("run", run.id))


# -- failures and escalations ----------------------------------------------------------------

PORTAL_409 = UpstreamError("portal", "namespace is taken", status=409, code="namespace_taken",
                           request_id="req-9")


def failed(**kwargs):
    outcome = outcome_of(fail=PORTAL_409, **kwargs)
    assert outcome.status is OutcomeStatus.FAILED
    return outcome


def issue_posts(http) -> list[dict]:
    return [sent(c) for c in http.calls if c.request.method == "POST" and c.request.url == ISSUES_URL]


def test_a_failure_opens_one_confidential_issue_and_notes_it(services, http, zendesk, gitlab):
    outcome = failed()
    run = stored_run(services, outcome)

    escalation = report_run(services, run, outcome)

    (row,) = escalations(services)
    assert (escalation.id, escalation.state, escalation.gitlab_issue_iid) == (row.id, "open", 14)
    assert escalation.created_at <= escalation.updated_at  # detached, yet readable
    assert escalation.gitlab_issue_url == "https://gitlab.example.test/support/escalations/-/issues/14"
    assert re.fullmatch(rf"\[lnr:escalation:{TICKET}:associate:[0-9a-f]{{12}}:[0-9a-f]{{16}}\]", row.marker)
    (posted,) = issue_posts(http)
    assert posted == {"title": f"Console escalation: Associate subscription, Zendesk ticket {TICKET} "
                               "(A-S00000001 -> acme)",
                      "description": posted["description"], "labels": [LABEL], "confidential": True}
    description = posted["description"]
    assert description.endswith(row.marker)
    assert f"https://acme.zendesk.com/agent/tickets/{TICKET}" in description
    for expected in ("request id: req-9", "status: 409", "code: namespace_taken", "run.started",
                     "| Seats bought cover the seats in use (`seats_cover_usage`) | Passed |",
                     "customer confirmed by email", "Agent Smith"):
        assert expected in description
    search = next(c for c in http.calls if c.request.method == "GET" and c.request.url.startswith(ISSUES_URL))
    assert "search=%5Blnr%3Aescalation" in search.request.url  # looked for before creating
    (note,) = zendesk.notes(TICKET)
    assert escalation.gitlab_issue_url in note
    assert note.endswith(services.marker("escalation-note", f"{row.id}:{run.id}"))
    # What failed, in words: the portal refused, so trying again would not help.
    assert "What failed: The customers portal refused the request (HTTP 409: " in note
    tags = [sent(c) for c in http.calls if c.request.url.endswith(f"/tickets/{TICKET}/tags.json")]
    assert tags == [{"tags": ["lnr_escalated"]}]  # views find escalated tickets by it
    (filed,) = events_of(services, "escalation.filed")
    assert (filed.run_id, filed.detail["action"], filed.detail["issue_iid"]) == (run.id, "opened", 14)


def test_a_second_failure_comments_on_the_same_issue(services, http, zendesk, gitlab):
    first = failed()
    report_run(services, stored_run(services, first), first)
    second_run = stored_run(services, first)

    escalation = report_run(services, second_run, first)

    assert len(issue_posts(http)) == 1 and len(escalations(services)) == 1
    (comment,) = gitlab.notes[14]
    assert comment.endswith(services.marker("escalation-comment", f"{escalation.id}:{second_run.id}"))
    assert f"run {second_run.id} failed" in comment and "request id: req-9" in comment
    note = zendesk.notes(TICKET)[-1]
    assert "failed again" in note and escalation.gitlab_issue_url in note
    assert len(zendesk.notes(TICKET)) == 2


def test_a_retried_report_of_a_failed_run_repeats_nothing(services, http, zendesk, gitlab):
    outcome = failed()
    run = stored_run(services, outcome)
    report_run(services, run, outcome)
    before = len(http.calls)

    again = report_run(services, run, outcome)

    later = http.calls[before:]
    # The ticket's comments, and the tag again (an idempotent write); nothing else.
    assert [c.request.method for c in later] == ["GET", "PUT"]
    assert sent(later[1]) == {"tags": ["lnr_escalated"]}
    assert again.gitlab_issue_iid == 14 and gitlab.notes == {}
    assert len(gitlab.issues) == 1 and len(zendesk.notes(TICKET)) == 1


def test_an_issue_left_by_a_crashed_attempt_is_adopted(services, http, zendesk, gitlab):
    outcome = failed()
    row = open_escalation(services, TICKET, "associate")  # the row was written, then the crash
    left = gitlab.add_issue(f"...\n\n{row.marker}")

    escalation = report_run(services, stored_run(services, outcome), outcome)

    assert issue_posts(http) == []
    assert (escalation.id, escalation.gitlab_issue_iid) == (row.id, left["iid"])
    assert escalation.gitlab_issue_url == left["web_url"]
    assert events_of(services, "escalation.filed")[0].detail["action"] == "adopted"


def test_a_closed_escalation_does_not_block_a_new_one(services, http, zendesk, gitlab):
    outcome = failed()
    first = report_run(services, stored_run(services, outcome), outcome)
    with services.db() as session:
        session.get(Escalation, first.id).state = "closed"
        session.commit()

    second = report_run(services, stored_run(services, outcome), outcome)

    assert second.id != first.id and second.marker != first.marker
    assert (second.state, second.gitlab_issue_iid) == ("open", 15)
    assert len(issue_posts(http)) == 2 and gitlab.notes == {}


def test_a_gitlab_failure_leaves_the_row_for_a_retry(services, http, zendesk, gitlab):
    outcome = failed()
    run = stored_run(services, outcome)
    gitlab.create_failures.append((400, {"message": {"title": ["is too long"]}}))

    with pytest.raises(UpstreamError):
        report_run(services, run, outcome)
    (row,) = escalations(services)
    assert row.gitlab_issue_iid is None and zendesk.notes(TICKET) == []

    assert report_run(services, run, outcome).id == row.id  # the retry
    assert len(gitlab.issues) == 1 and len(zendesk.notes(TICKET)) == 1


def test_a_manual_escalation_fences_the_agents_summary(services, http, zendesk, gitlab):
    summary = "Customer says:\n```\n/close\n```\n@all please ````look````"
    row = escalate(services, ticket_id=TICKET, workflow="associate", summary=summary,
                   agent={"id": 9000, **AGENT})

    (posted,) = issue_posts(http)
    assert notes.fenced(summary) in posted["description"]
    # As written, but for the zero-width spaces that keep /close and @all inert (item 10).
    assert "`````text\n" + notes.neutralised(summary) + "\n`````" in posted["description"]
    assert posted["description"].count("\u200b") == 2
    note = zendesk.notes(TICKET)[0]
    assert re.search(rf"\[lnr:escalation-note:{row.id}:[0-9a-f]{{12}}:[0-9a-f]{{16}}\]$", note)

    escalate(services, ticket_id=TICKET, workflow="associate", summary="still broken",
             agent={"id": 9000, **AGENT})
    assert len(issue_posts(http)) == 1 and "still broken" in gitlab.notes[14][0]
    assert len(zendesk.notes(TICKET)) == 2


def test_concurrent_escalations_share_one_open_row(services):
    ids: list[int] = []
    barrier = threading.Barrier(8)

    def open_one():
        barrier.wait()
        ids.append(open_escalation(services, TICKET, "associate").id)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1 and len(ids) == 8
    assert [r.id for r in escalations(services)] == ids[:1]


def test_force_associate_note_states_the_true_ups(services, http, zendesk):
    outcome = outcome_of([sub("A-S00000001", seats=10), namespace(500, billable_members_count=14)],
                         workflow="force_associate")
    report_run(services, stored_run(services, outcome), outcome)

    note = zendesk.notes(TICKET)[0]
    assert "NOT reset" in note and "True-ups: 4 seat(s)" in note
    assert writes(http) == [result_put(note, "force_associate")]


def test_two_failures_at_once_make_one_issue_and_one_comment(services, http, zendesk, gitlab):
    outcome = failed()
    runs = [stored_run(services, outcome) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def report(run):
        barrier.wait()
        try:
            report_run(services, run, outcome)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=report, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(gitlab.issues) == 1 and len(gitlab.notes[14]) == 1
    assert sorted(e.detail["action"] for e in events_of(services, "escalation.filed")) == ["commented", "opened"]
