"""workflows.notes: markers, fences that nothing inside can close, and the words of each note."""
from __future__ import annotations

import re

import pytest

import workflows
from tests.scenario_edits import customer, namespace, sub
from tests.world import FakeClock, World
from workflows import Confirmation, Decision, OutcomeStatus, UpstreamError, notes

ASSOC = {"subscription": "A-S00000001", "namespace": "acme", "ticket": 1}
HOSTILE = "Customer wrote:\n```\n/close\n```\n@all see ````this````\r\n/label ~done"


def run(scenario, workflow="associate", inputs=ASSOC, decision=Decision.READY, fail=None):
    world = World(scenario)
    if fail is not None:
        world.failures["link_subscription"] = fail
    # A clock that advances: a verification that never holds must end, not spin.
    clock = FakeClock()
    return workflows.execute(workflow, world.ports, inputs, confirmation=Confirmation(decision=decision),
                             idempotency_key="run-1:change", clock=clock, sleep=clock.sleep)


def outside_fences(markdown: str) -> str:
    """The lines a CommonMark reader would not put in a fenced code block: a backtick fence
    of N closes only on a line of at least N backticks (spec 0.31.2, "Fenced code blocks")."""
    outside, fence = [], None
    for line in markdown.split("\n"):
        if fence is None:
            opening = re.match(r"^ {0,3}(`{3,})[^`]*$", line)
            if opening:
                fence = len(opening.group(1))
            else:
                outside.append(line)
        elif re.match(rf"^ {{0,3}}`{{{fence},}}\s*$", line):
            fence = None
    assert fence is None, "a fence was left open"
    return "\n".join(outside)


# -- markers ---------------------------------------------------------------------------------


def test_marker_form():
    assert notes.marker("run", 7) == "[lnr:run:7]"
    assert notes.marker("noop", "associate:0123456789ab") == "[lnr:noop:associate:0123456789ab]"
    assert notes.marker("escalation-note", "3:12") == "[lnr:escalation-note:3:12]"


@pytest.mark.parametrize("kind, key", [("Run", 1), ("run", "a b"), ("run", "x]"), ("", 1),
                                       ("run", ""), ("run", "a\nb"), ("run:x", 1)])
def test_a_marker_that_would_not_be_one_token_is_refused(kind, key):
    with pytest.raises(ValueError):
        notes.marker(kind, key)


def test_a_signed_marker_carries_a_mac_of_its_kind_and_key():
    # Issue 16, item 3: without the key nobody writes a valid marker.
    mark = notes.signed_marker(b"k" * 32, "run", 7)
    assert re.fullmatch(r"\[lnr:run:7:[0-9a-f]{16}\]", mark)
    assert mark != notes.signed_marker(b"other-key" * 4, "run", 7)
    assert mark != notes.signed_marker(b"k" * 32, "run", 8)
    assert mark != notes.signed_marker(b"k" * 32, "noop", 7).replace("noop", "run")
    with pytest.raises(ValueError):
        notes.signed_marker(b"", "run", 7)


def test_marker_stamp_reads_both_gitlab_time_formats():
    assert notes.marker_stamp("2026-03-02T10:15:00Z") == "20260302T101500Z"
    assert notes.marker_stamp("2026-03-02 10:15:00 UTC") == "20260302101500UTC"
    assert notes.marker_stamp(None) == "none"


def test_inputs_digest_is_canonical():
    a = notes.inputs_digest({"subscriptions": ["A-S00000001"], "namespaces": ["acme"], "ticket_id": 1})
    b = notes.inputs_digest({"ticket_id": 1, "namespaces": ["acme"], "subscriptions": ["A-S00000001"]})
    assert a == b and re.fullmatch(r"[0-9a-f]{12}", a)
    assert notes.inputs_digest({"ticket_id": 2}) != notes.inputs_digest({"ticket_id": 1})


# -- fences ----------------------------------------------------------------------------------


def test_a_fence_is_longer_than_any_backtick_run_inside():
    block = notes.fenced(HOSTILE)
    assert block.startswith("`````text\n") and block.endswith("\n`````")
    assert outside_fences(block) == ""
    assert "\r" not in block and "/label ~done" in block


@pytest.mark.parametrize("text", ["", "plain", "`", "``````", "a\n```\nb", "``` \n~~~\n/close"])
def test_nothing_inside_a_fence_escapes_it(text):
    assert outside_fences("before\n\n" + notes.fenced(text) + "\n\nafter") == "before\n\n\nafter"


def test_outside_fences_sees_an_unfenced_quick_action():
    # The helper itself must be able to fail.
    assert "/close" in outside_fences("```\nx\n```\n/close")
    with pytest.raises(AssertionError):
        outside_fences("````\nx\n```")


def test_escalation_text_keeps_upstream_and_ticket_text_fenced(scenario):
    outcome = run(scenario, fail=UpstreamError("portal", HOSTILE, status=409, code="namespace_taken",
                                               request_id="req-9"))
    ctx = notes.EscalationContext(
        ticket_id=1, workflow="associate", ticket_link=notes.ticket_url("acme", 1),
        agent={"id": 9000, "name": "@everyone Agent", "email": "a@vendor.test"},
        inputs=outcome.plan.inputs, summary=HOSTILE, override_reason="/close please", run_id=5,
        outcome=outcome,
        timeline=(notes.TimelineEntry("2026-01-01T00:00:00+00:00", "run.failed", {"why": "```\n/close"}),))
    for text in (notes.escalation_description(ctx, mode="upstream", marker="[lnr:escalation:1:associate:x]"),
                 notes.escalation_comment(ctx, mode="upstream", marker="[lnr:escalation-comment:1:5]")):
        visible = outside_fences(text)
        assert "/close" not in visible and "/label" not in visible and "@" not in visible
        assert "request id: req-9" in text and "status: 409" in text and "run.failed" in text
    assert notes.escalation_title(ctx) == ("Console escalation: Associate subscription, Zendesk ticket 1 "
                                           "(A-S00000001 -> acme)")


def old_extractor_view(markdown: str) -> str:
    """What an older GitLab quick-action extractor reads as outside code: it took only
    fences of exactly three backticks, closed by the first line of exactly three
    (lib/gitlab/quick_actions/extractor.rb, CODE_REGEX `^```\\n.+?\\n```$`)."""
    return re.sub(r"^```.*?\n.+?\n```$", "", markdown, flags=re.MULTILINE | re.DOTALL)


def commands_and_mentions(text: str) -> list[str]:
    """Line-leading `/cmd` (leading blanks allowed) and `@name` not inside a word."""
    return re.findall(r"(?m)^[ \t]*/\w+", text) + re.findall(r"(?<!\w)@\w+", text)


def test_no_gitlab_version_reads_a_quick_action_or_mention_in_customer_text(scenario):
    # Issue 16, item 10: a fence of four backticks holding ``` and /close fooled the old
    # extractor; the text itself must hold no command and no mention.
    hostile = "thanks\n```\n/close\n  /assign @root\n@all\n```\n/label ~done"
    ctx = notes.EscalationContext(
        ticket_id=1, workflow="escalate", ticket_link=notes.ticket_url("acme", 1),
        agent={"id": 9000, "name": "@everyone", "email": "a@vendor.test"}, inputs={},
        summary=hostile, override_reason="/unassign", run_id=None, outcome=None, timeline=())
    for text in (notes.escalation_description(ctx, mode="upstream", marker="[lnr:escalation:1:x]"),
                 notes.escalation_comment(ctx, mode="upstream", marker="[lnr:escalation-comment:1:y]")):
        assert commands_and_mentions(old_extractor_view(text)) == []
        assert commands_and_mentions(outside_fences(text)) == []
        assert "a@vendor.test" in text  # an email is no mention, and stays as written


def test_the_title_shows_only_plain_identifiers():
    ctx = notes.EscalationContext(ticket_id=1, workflow="escalate", ticket_link="x",
                                  inputs={"subscription": "@all /close", "namespace": "acme"})
    assert notes.escalation_title(ctx) == "Console escalation: Escalate to engineers, Zendesk ticket 1 (acme)"


# -- after a run -----------------------------------------------------------------------------


def test_success_note_has_changes_and_the_seed_001_reply(scenario):
    outcome = run(scenario)
    note = notes.success_note(outcome, mode="upstream", marker="[lnr:run:3]")
    assert note.startswith("Associate subscription: done, and verified.")
    assert "- Namespace linked to A-S00000001: none -> acme (id 500)" in note
    assert "- Plan of acme (id 500): free -> premium" in note
    assert ("I have successfully provisioned your subscription and it has been associated with your "
            "account and namespace. Please navigate to your group's billing page for confirmation: "
            "https://gitlab.com/groups/acme/-/billings") in note
    assert note.endswith("\n\n[lnr:run:3]")


def test_a_personal_namespace_gets_the_personal_billing_page(scenario):
    outcome = run(scenario, inputs={**ASSOC, "namespace": "ada"})
    assert outcome.status is OutcomeStatus.SUCCEEDED
    assert "https://gitlab.com/-/profile/billings" in notes.success_note(outcome, mode="upstream", marker="[lnr:run:1]")


def test_force_associate_note_gives_the_true_ups_and_no_reset(scenario):
    sub("A-S00000001", seats=10)(scenario)
    namespace(500, billable_members_count=14)(scenario)
    note = notes.success_note(run(scenario, "force_associate"), mode="upstream", marker="[lnr:run:1]")
    assert "Compute-minute usage was NOT reset" in note
    assert "True-ups: 4 seat(s) - 14 seats in use exceed the 10 seats bought" in note
    assert "- [warn] seats_cover_usage:" in note
    reply = note.split("Draft reply to the customer (not sent):", 1)[1]
    assert "14 users and the subscription 10 seats: the 4 seat(s) beyond it will appear as true-ups" in reply


def test_a_draft_reply_without_true_ups_does_not_mention_them(scenario):
    note = notes.success_note(run(scenario), mode="upstream", marker="[lnr:run:1]")
    assert "Draft reply" in note and "true-ups" not in note.split("Draft reply", 1)[1]


def test_clearing_an_add_on_says_its_units_left_and_the_plan_stays(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    sub("A-S00000003", namespace_id=500, status="cancelled")(scenario)
    namespace(500, plan="premium")(scenario)
    cleared = run(scenario, "clear_subscription", {"subscription": "A-S00000003", "ticket": 1})
    note = notes.success_note(cleared, mode="upstream", marker="[lnr:run:1]")
    assert "10000 compute minutes of A-S00000003 left acme (id 500); its plan (premium) is unchanged." in note


def test_the_unlink_note_recommends_linking_the_right_owner_next(scenario):
    sub("A-S00000001", namespace_id=500, status="expired")(scenario)  # lapsed: a warning only
    unlinked = run(scenario, "unlink_account", {"customer": 1, "ticket": 1})
    note = notes.success_note(unlinked, mode="upstream", marker="[lnr:run:1]")
    assert "(A-S00000001) no longer receive changes" in note and "(link_account)" in note


@pytest.mark.parametrize("in_use, seats, expected", [
    (40, 10, "True-ups: 30 seat(s)"), (10, 10, "No true-ups"), (3, 10, "No true-ups"), (None, 10, ""),
])
def test_true_ups_are_in_use_minus_seats_never_negative(in_use, seats, expected):
    assert notes.true_ups_line(in_use, seats).startswith(expected)


def test_clear_and_unlink_notes_say_what_the_customer_loses(scenario):
    sub("A-S00000001", namespace_id=500, status="expired")(scenario)  # lapsed: no override
    cleared = run(scenario, "clear_subscription", {"subscription": "A-S00000001", "ticket": 1})
    assert "acme (id 500) is back on the Free plan." in notes.success_note(cleared, mode="upstream", marker="[lnr:run:1]")
    unlinked = run(scenario, "unlink_account", {"customer": 1, "ticket": 1})
    note = notes.success_note(unlinked, mode="upstream", marker="[lnr:run:2]")
    assert "GitLab.com link is removed" in note and "@ada (GitLab.com user 100) -> none" in note
    assert "Draft reply" not in note


def test_link_note_says_what_changed_and_recommends_the_association_that_follows(scenario):
    customer(1, gitlab_user_id=None)(scenario)
    linked = run(scenario, "link_account", {"customer": 1, "subscription": "A-S00000001",
                                            "namespace": "acme", "gitlab_user": "ada", "ticket": 1})
    assert linked.status is OutcomeStatus.SUCCEEDED and linked.verified
    note = notes.success_note(linked, mode="upstream", marker="[lnr:run:1]")
    assert "GitLab.com link of the portal customer: none -> @ada (GitLab.com user 100)" in note
    assert "portal customer 1 (owner@acme.test) is linked to @ada" in note
    assert "Next: associate A-S00000001 with acme" in note
    assert "Draft reply" not in note  # nothing is provisioned yet


def test_link_note_without_a_subscription_and_namespace_names_no_pair(scenario):
    customer(1, gitlab_user_id=None)(scenario)
    linked = run(scenario, "link_account", {"customer": 1, "ticket": 1})  # ada, by the requester's email
    note = notes.success_note(linked, mode="upstream", marker="[lnr:run:1]")
    assert "none -> @ada (GitLab.com user 100)" in note
    assert "Next: associate the customer's subscription" in note and "A-S00000001" not in note


def test_noop_note_says_nothing_to_do(scenario):
    sub("A-S00000001", namespace_id=500)(scenario)
    namespace(500, plan="premium")(scenario)
    note = notes.noop_note(run(scenario), mode="upstream", marker="[lnr:noop:associate:0]")
    assert "nothing to do" in note and "already linked to acme" in note


def test_superseded_note_lists_every_check_and_asks_to_confirm_again(scenario):
    sub("A-S00000001", status="cancelled")(scenario)
    outcome = run(scenario)
    note = notes.superseded_note(outcome, mode="upstream", marker="[lnr:run:1]")
    assert "The new plan's decision: blocked." in note
    for check in outcome.plan.checks:
        assert f"- [{check.verdict}] {check.id}: {check.message}" in note
    assert "confirm again" in note


def test_every_note_says_sandbox_first_in_sandbox_mode(scenario):
    outcome = run(scenario)
    ctx = notes.EscalationContext(ticket_id=1, workflow="associate", ticket_link="x", outcome=outcome)
    texts = [
        lambda mode: notes.success_note(outcome, mode=mode, marker="[lnr:run:1]"),
        lambda mode: notes.noop_note(outcome, mode=mode, marker="[lnr:run:1]"),
        lambda mode: notes.superseded_note(outcome, mode=mode, marker="[lnr:run:1]"),
        lambda mode: notes.escalation_description(ctx, mode=mode, marker="[lnr:e:1]"),
        lambda mode: notes.escalation_comment(ctx, mode=mode, marker="[lnr:e:1]"),
        lambda mode: notes.escalation_ticket_note(url="u", iid=1, workflow="associate", repeated=False,
                                                  manual=False, mode=mode, marker="[lnr:e:1]"),
        lambda mode: notes.escalation_closed_note(url="u", iid=1, by="x", mode=mode, marker="[lnr:e:1]"),
        lambda mode: notes.escalation_reopened_note(url="u", iid=1, by=None, other_url=None, mode=mode,
                                                    marker="[lnr:e:1]"),
    ]
    for text in texts:
        assert text("sandbox").split("\n")[0] == notes.SANDBOX_LINE
        assert notes.SANDBOX_LINE not in text("upstream")


def test_an_odd_workflow_value_is_not_echoed_into_markdown():
    odd = "x`\n/close"
    ctx = notes.EscalationContext(ticket_id=1, workflow=odd, ticket_link="x", summary="s")
    text = notes.escalation_description(ctx, mode="upstream", marker="[lnr:e:1]")
    assert "/close" not in outside_fences(text) and odd not in notes.escalation_title(ctx)
