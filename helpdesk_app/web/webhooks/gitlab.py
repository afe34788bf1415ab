"""`POST /webhooks/gitlab`: escalation issues closed or reopened come back to their ticket.

GitLab's "Issue Hook" and "Confidential Issue Hook" (escalation issues are confidential),
https://docs.gitlab.com/user/project/integrations/webhook_events/#work-item-events; the
secret comes in `X-Gitlab-Token`
(https://docs.gitlab.com/user/project/integrations/webhooks/#create-a-webhook).

Answers: 401 for a missing or wrong token; 200 `ignored` for another event, another
project or an issue that is no escalation; 400 for a body that is not JSON or lacks what
an issue hook has; 200 `duplicate` for a delivery seen before; else 202 once the delivery
is recorded, and a job (`gitlab_delivery`) brings the news to the ticket.

GitLab may send both a close hook and an update hook for one action. The escalation's
state transition decides who acts: a conditional UPDATE (`WHERE state = 'open'`) has one
winner. The ticket note's marker is keyed by the escalation and the issue's
closed_at/updated_at, so a reprocessed delivery finds its note instead of posting another.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from helpdesk_app import metrics
from helpdesk_app.engine.deliveries import record_delivery
from helpdesk_app.errors import ApiError
from helpdesk_app.security import json_limits
from helpdesk_app.storage.models import Delivery, Escalation, utcnow
from helpdesk_app.upstreams import zendesk_pacing
from workflows import notes

blueprint = Blueprint("gitlab_webhook", __name__)
log = logging.getLogger(__name__)

SOURCE = "gitlab"
JOB_KIND = "gitlab_delivery"
TOKEN_HEADER = "X-Gitlab-Token"
EVENT_HEADER = "X-Gitlab-Event"
UUID_HEADER = "X-Gitlab-Event-UUID"
HANDLED_EVENTS = ("Issue Hook", "Confidential Issue Hook")
# Work items other than issues (tasks, incidents...) come as `work_item` under the same
# header; escalations are issues.
ISSUE_KIND = "issue"
DONE = ("processed", "ignored")
MAX_UUID = 128
# The delivery won its state transition; the ticket's effects are (re)done from here.
EFFECTS_PENDING = ("processing", "failed")


class MalformedHook(ValueError):
    """Not JSON, or lacking the fields an issue hook has."""


@dataclass(frozen=True)
class IssueHook:
    kind: str
    project_id: int | None
    project_path: str
    iid: int
    state: str
    action: str | None
    closed_at: str | None
    updated_at: str | None
    url: str | None
    username: str | None


@blueprint.record_once
def _register_job(state) -> None:
    services = state.app.extensions["helpdesk"]
    services.jobs.register(JOB_KIND, process_gitlab_delivery)


@blueprint.post("/webhooks/gitlab")
def receive():
    services = current_app.extensions["helpdesk"]
    check_token(services.settings.gitlab_webhook_token, request.headers.get(TOKEN_HEADER))
    event = request.headers.get(EVENT_HEADER, "")
    if event not in HANDLED_EVENTS:
        log.info("webhook.gitlab.ignored", extra={"event": event[:64], "reason": "event"})
        return jsonify(status="ignored", event=event), 200
    body = request.get_data(cache=False)
    hook = _parse_or_400(body)
    reason = _ignore_reason(services, hook)
    if reason:
        log.info("webhook.gitlab.ignored", extra={"event": event, "reason": reason, "iid": hook.iid})
        return jsonify(status="ignored", reason=reason), 200
    key = delivery_key(request.headers.get(UUID_HEADER), body)
    delivery_id = record_delivery(services.db, source=SOURCE, key=key, body=body,
                                  headers=request.headers)
    if delivery_id is None:
        return jsonify(status="duplicate", delivery_key=key), 200
    services.jobs.dispatch(JOB_KIND, delivery_id, noted=True)  # after record_delivery's commit
    return jsonify(status="accepted", delivery_key=key), 202


def delivery_key(event_uuid: str | None, body: bytes) -> str:
    """GitLab's event UUID (the same on a resend); else the body's hash. An overlong header
    is not a UUID and would not fit the key column."""
    if event_uuid and len(event_uuid) <= MAX_UUID:
        return event_uuid
    return "sha256:" + hashlib.sha256(body).hexdigest()


def check_token(expected, given: str | None) -> None:
    """Constant-time comparison; fails closed when no token is configured."""
    secret = expected.get_secret_value() if expected is not None else ""
    if not secret or given is None or not hmac.compare_digest(
            given.encode("utf-8"), secret.encode("utf-8")):
        log.warning("webhook.gitlab.refused", extra={"code": "bad_token", "missing": given is None})
        raise ApiError(401, "bad_token", "missing or wrong X-Gitlab-Token")


def _parse_or_400(body: bytes) -> IssueHook:
    try:
        return parse_hook(body)
    except MalformedHook as error:
        raise ApiError(400, "malformed_delivery", str(error)) from None


def parse_hook(body: bytes) -> IssueHook:
    try:
        data = json_limits.loads(body)
    except json_limits.TooDeep as error:
        raise MalformedHook(str(error)) from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedHook("the body is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedHook("the body is not a JSON object")
    kind, attrs, project = data.get("object_kind"), data.get("object_attributes"), data.get("project")
    if not isinstance(kind, str) or not isinstance(attrs, dict) or not isinstance(project, dict):
        raise MalformedHook("object_kind, object_attributes and project are required")
    iid, state = attrs.get("iid"), attrs.get("state")
    if isinstance(iid, bool) or not isinstance(iid, int) or not isinstance(state, str):
        raise MalformedHook("object_attributes needs an integer iid and a state")
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    return IssueHook(
        kind=kind, project_id=_int_or_none(project.get("id")),
        project_path=str(project.get("path_with_namespace") or ""), iid=iid, state=state,
        action=_str_or_none(attrs.get("action")), closed_at=_str_or_none(attrs.get("closed_at")),
        updated_at=_str_or_none(attrs.get("updated_at")), url=_str_or_none(attrs.get("url")),
        username=_str_or_none(user.get("username")),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def from_escalation_project(hook: IssueHook, project: str | None) -> bool:
    """GITLAB_ESCALATION_PROJECT is an id or a full path (GitLab paths ignore case)."""
    if not project:
        return False
    if project.isdigit():
        return hook.project_id == int(project)
    return hook.project_path.casefold() == project.casefold()


def _ignore_reason(services: Any, hook: IssueHook) -> str | None:
    if hook.kind != ISSUE_KIND:
        return "not_an_issue"
    if not from_escalation_project(hook, services.settings.gitlab_escalation_project):
        return "other_project"
    if _escalation_for(services, hook.iid) is None:
        return "not_an_escalation"
    return None


def _escalation_for(services: Any, iid: int) -> Escalation | None:
    with services.db() as session:
        return session.scalars(select(Escalation).where(Escalation.gitlab_issue_iid == iid)
                               .order_by(Escalation.id.desc())).first()


# -- the job: from a recorded delivery to the ticket ------------------------------------------


@dataclass(frozen=True)
class Transition:
    kind: str  # closed | reopened | reopen_refused
    escalation: Escalation
    other: Escalation | None = None  # reopen_refused: the escalation open meanwhile


def process_gitlab_delivery(services: Any, delivery_id: int) -> None:
    """Bring one recorded issue hook to its ticket. Safe to run again: a delivery that won
    its transition keeps status processing/failed until the ticket's effects are done, and
    those effects are idempotent (notes by marker, the status write)."""
    status, body = _start(services, delivery_id)
    if status is None or status in DONE:
        return
    try:
        hook = parse_hook(body or b"")  # None when retention dropped the body
    except MalformedHook:
        _finish(services, delivery_id, "ignored")
        return
    transition = _transition(services, delivery_id, status, hook)
    if transition is None:
        log.info("escalation.hook_no_change", extra={"delivery_id": delivery_id, "iid": hook.iid,
                                                     "state": hook.state, "action": hook.action})
        _finish(services, delivery_id, "ignored")
        return
    try:
        _tell_ticket(services, transition, hook)
    except Exception:
        _finish(services, delivery_id, "failed")
        log.exception("gitlab_delivery.failed", extra={"delivery_id": delivery_id})
        raise
    _finish(services, delivery_id, "processed")


def _start(services: Any, delivery_id: int) -> tuple[str | None, bytes | None]:
    with services.db() as session, session.begin():
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            log.warning("gitlab_delivery.missing", extra={"delivery_id": delivery_id})
            return None, None
        delivery.attempts = (delivery.attempts or 0) + 1
        return delivery.status, delivery.body


def _finish(services: Any, delivery_id: int, status: str) -> None:
    with services.db() as session, session.begin():
        session.execute(update(Delivery).where(Delivery.id == delivery_id)
                        .values(status=status, processed_at=utcnow()))
    metrics.DELIVERIES.labels("gitlab", status).inc()


def _mark_processing(session: Any, delivery_id: int) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status="processing"))


def _transition(services: Any, delivery_id: int, status: str, hook: IssueHook) -> Transition | None:
    row = _escalation_for(services, hook.iid)
    if row is None:
        return None
    if status in EFFECTS_PENDING:  # won before; only the ticket's effects remain
        return _replayed(services, row, hook)
    if hook.state == "closed":
        return _close(services, delivery_id, row)
    if hook.state == "opened":
        return _reopen(services, delivery_id, row, hook)
    return None


def _close(services: Any, delivery_id: int, row: Escalation) -> Transition | None:
    """Only the delivery whose UPDATE moves the row from open to closed acts."""
    won = _move(services, delivery_id, row, "open", "closed")
    if won:
        log.info("escalation.closed", extra={"escalation_id": row.id, "ticket_id": row.ticket_id})
    return Transition("closed", row) if won else None


def _reopen(services: Any, delivery_id: int, row: Escalation, hook: IssueHook) -> Transition | None:
    try:
        won = _move(services, delivery_id, row, "closed", "open")
    except IntegrityError:
        # "One open per ticket+workflow": another escalation opened meanwhile, so this one
        # stays closed here. The engineer's reopen is still worth a note; later edits are not.
        if hook.action != "reopen":
            return None
        with services.db() as session, session.begin():
            _mark_processing(session, delivery_id)
        log.info("escalation.reopen_refused", extra={"escalation_id": row.id})
        return Transition("reopen_refused", row, _other_open(services, row))
    if won:
        log.info("escalation.reopened", extra={"escalation_id": row.id, "ticket_id": row.ticket_id})
    return Transition("reopened", row) if won else None


def _move(services: Any, delivery_id: int, row: Escalation, from_state: str, to_state: str) -> bool:
    """The conditional UPDATE that has one winner; the winner's delivery is marked as the
    one whose ticket effects are pending, in the same transaction."""
    with services.db() as session, session.begin():
        won = session.execute(
            update(Escalation).where(Escalation.id == row.id, Escalation.state == from_state)
            .values(state=to_state, updated_at=utcnow())).rowcount == 1
        if won:
            _mark_processing(session, delivery_id)
    return won


def _replayed(services: Any, row: Escalation, hook: IssueHook) -> Transition | None:
    if hook.state == "closed":
        return Transition("closed", row)
    if row.state == "open":
        return Transition("reopened", row)
    return Transition("reopen_refused", row, _other_open(services, row))


def _other_open(services: Any, row: Escalation) -> Escalation | None:
    with services.db() as session:
        return session.scalar(select(Escalation).where(
            Escalation.ticket_id == row.ticket_id, Escalation.workflow == row.workflow,
            Escalation.state == "open", Escalation.id != row.id))


def _tell_ticket(services: Any, transition: Transition, hook: IssueHook) -> None:
    with zendesk_pacing.priority():  # a post-back: from the share held back for it
        _note_transition(services, transition, hook)


def _note_transition(services: Any, transition: Transition, hook: IssueHook) -> None:
    row, mode, zendesk = transition.escalation, services.settings.mode, services.zendesk
    agent_page = services.settings.agent_page_url
    url = (notes.escalation_url(row.gitlab_issue_url or hook.url, row.gitlab_issue_iid, agent_page=agent_page)
           or f"issue #{row.gitlab_issue_iid}")
    if transition.kind == "closed":
        mark = services.marker("escalation-closed",
                               f"{row.id}:{notes.marker_stamp(hook.closed_at or hook.updated_at)}")
        zendesk.add_internal_note(row.ticket_id, notes.escalation_closed_note(
            url=url, iid=row.gitlab_issue_iid, by=hook.username, mode=mode, marker=mark), marker=mark)
        zendesk.set_status(row.ticket_id, "open")  # so the agent sees it again
        return
    other = transition.other
    other_url = ((notes.escalation_url(other.gitlab_issue_url, other.gitlab_issue_iid, agent_page=agent_page)
                  or f"escalation {other.id}") if other is not None else None)
    mark = services.marker("escalation-reopened", f"{row.id}:{notes.marker_stamp(hook.updated_at)}")
    zendesk.add_internal_note(row.ticket_id, notes.escalation_reopened_note(
        url=url, iid=row.gitlab_issue_iid, by=hook.username, other_url=other_url, mode=mode,
        marker=mark), marker=mark)
