"""The routes of /api/v1. Each: authenticate, parse, authorise, hand over, answer."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

import workflows
from helpdesk_app import metrics
from helpdesk_app.engine import failures, postback, run_watch, runs, triage_job
from helpdesk_app.errors import ApiError
from helpdesk_app.security import json_limits
from helpdesk_app.storage import audit
from helpdesk_app.storage.audit_chain import chain_head
from helpdesk_app.upstreams import trace, zendesk_pacing
from helpdesk_app.web import services_of
from helpdesk_app.web.api import bodies
from helpdesk_app.web.api.auth import (
    authorize,
    authorize_overrides,
    current_agent,
    limit_agent,
    require_agent,
    require_ticket,
)
from helpdesk_app.web.context import (
    escalation_json,
    run_json,
    stored_findings,
    ticket_context,
    workflow_choices,
)
from workflows import BadInput, Refused, notes
from workflows.inputs import MAX_ID, positive_id

# `execute`'s refusals, as the API answers them before recording a run.
REFUSAL_STATUS = {"plan_blocked": 409, "reason_required": 422, "not_executable": 400}

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


@blueprint.after_request
def _never_cached(response):
    # Answers hold customer data for one agent's session; no proxy or browser keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


def _body():
    """The JSON body, or None when it is not JSON (each parser then says what it expects);
    BadInput beyond json_limits.MAX_DEPTH levels, which `json` would answer with a 500."""
    try:
        return json_limits.loads(request.get_data(cache=True))
    except json_limits.TooDeep as error:
        raise BadInput(str(error)) from None
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None


@blueprint.record_once
def _register_jobs(state) -> None:
    services = state.app.extensions["helpdesk"]
    services.jobs.register("run", runs.perform_run)


@blueprint.get("/tickets/<int:ticket_id>")
@require_agent
def ticket(ticket_id: int):
    require_ticket(_db_id(ticket_id, "ticket"))
    services = services_of(current_app)
    context = ticket_context(services.db, ticket_id, services.settings)
    return jsonify({**context, "workflows": workflow_choices(services.policy, current_agent())})


@blueprint.post("/tickets/<int:ticket_id>/findings")
@require_agent
def read_findings(ticket_id: int):
    """The ticket's findings; read and diagnosed now (read only: no note, no tag, no
    Zendesk write) when it has none, e.g. a ticket from before the service was installed."""
    authorize("diagnose")
    limit_agent("plan")
    require_ticket(_db_id(ticket_id, "ticket"))
    services = services_of(current_app)
    found = stored_findings(services.db, ticket_id)
    if found is None:
        with trace.capture(), zendesk_pacing.priority():  # the sidebar is waiting on it
            triage_job.triage_ticket(services, ticket_id, note=False)
        found = stored_findings(services.db, ticket_id)
    return jsonify({"ticket_id": ticket_id, "findings": found})


@blueprint.post("/plans")
@require_agent
def plan():
    workflow, ticket_id, inputs = bodies.plan_request(_body())
    authorize(workflow)
    limit_agent("plan")
    require_ticket(ticket_id)
    services = services_of(current_app)
    with trace.capture() as request_ids, metrics.PLAN_SECONDS.labels(workflow).time():
        made = workflows.plan(workflow, services.agent_ports, inputs, services.rules)
    with services.db() as session:
        audit.record_plan(session, agent=current_agent().to_dict(), ticket_id=ticket_id,
                          plan=made, request_ids=list(request_ids))
        session.commit()
    # Who may confirm each override: the sidebar explains it and refuses the confirm.
    confirmers = [services.policy.confirmer(current_agent(), check_id) for check_id in made.override_ids]
    refused = next((c for c in confirmers if not c["allowed"]), None)
    words = notes.plan_summary(made, confirm_groups=refused["allowed_groups"] if refused else None)
    return jsonify({"ticket_id": ticket_id, **words, **made.to_dict(), "override_confirmers": confirmers})


@blueprint.post("/runs")
@require_agent
def start_run():
    run_request = bodies.run_request(_body())
    key = bodies.idempotency_key(request.headers.get("Idempotency-Key"))
    authorize(run_request.workflow)
    limit_agent("run")
    require_ticket(run_request.ticket_id)  # before the run exists: nothing acts for no ticket
    authorize_overrides(run_request.confirmation.override_ids)
    try:
        workflows.check_run(run_request.workflow, run_request.inputs, run_request.confirmation)
    except Refused as refused:
        raise ApiError(REFUSAL_STATUS[refused.code], refused.code, str(refused)) from None
    services = services_of(current_app)
    run, created = runs.create_run(services.db, run_request, current_agent(), key)
    if created:
        services.jobs.dispatch("run", run.id)
        run = runs.load_run(services.db, run.id)
    response = jsonify(run_json(run, runs.escalation_of(services.db, run), services.settings))
    response.status_code = 202
    response.headers["Location"] = url_for(".get_run", run_id=run.id)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blueprint.get("/runs/<int:run_id>")
@require_agent
def get_run(run_id: int):
    """The run; with `wait` (seconds, at most run_watch.MAX_WAIT_S) and `seen` (the
    `version` the sidebar has), answered once the run has moved on from `seen`."""
    services = services_of(current_app)
    wait, seen = _wait_s(), request.args.get("seen")
    run = runs.load_run(services.db, _db_id(run_id, "run"))
    if run is None:
        raise ApiError(404, "run_not_found", f"there is no run {run_id}")
    require_ticket(run.ticket_id)  # a run is read through its ticket
    if wait and seen is not None and runs.version_of(run) == seen:
        run_watch.wait_for_change(lambda: runs.stored_version(services.db, run_id), seen, wait)
        run = runs.load_run(services.db, run_id) or run
    return jsonify(run_json(run, runs.escalation_of(services.db, run), services.settings))


def _wait_s() -> float:
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= run_watch.MAX_WAIT_S:  # NaN fails this too
        raise BadInput(f"wait must be seconds from 0 to {run_watch.MAX_WAIT_S:g}", field="wait")
    return wait


@blueprint.post("/escalations")
@require_agent
def escalate():
    ticket_id, workflow, summary = bodies.escalation_request(_body())
    authorize("escalate")
    require_ticket(ticket_id)
    services, agent = services_of(current_app), current_agent().to_dict()
    # The audit record is written with the GitLab step (postback._record_filed), so it
    # exists even when the ticket note then fails and this answers 502.
    # A post-back to the ticket: from the share of Zendesk's budget held back for it.
    with trace.capture(), zendesk_pacing.priority():  # the record quotes the request ids
        escalation = postback.escalate(services, ticket_id=ticket_id, workflow=workflow,
                                       summary=summary, agent=agent)
    return jsonify(escalation_json(escalation, services.settings)), 201


@blueprint.get("/audit")
@require_agent
def audit_trail():
    authorize("audit")
    ticket_id = positive_id(request.args.get("ticket_id"), "ticket_id")
    with services_of(current_app).db() as session:
        records = [audit.as_dict(r) for r in audit.records(session, ticket_id=ticket_id)]
        head = chain_head(session)
    return jsonify({"ticket_id": ticket_id, "records": records, "chain_head": head})


@blueprint.get("/failures")
@require_agent
def list_failures():
    authorize("failures")
    services = services_of(current_app)
    return jsonify(failures.list_failures(services.db, services.settings.escalation_overdue_s))


@blueprint.post("/failures/<kind>/<int:item_id>/requeue")
@require_agent
def requeue(kind: str, item_id: int):
    authorize("failures")
    services = services_of(current_app)
    agent = current_agent().to_dict()
    done = failures.requeue(services.db, kind, _db_id(item_id, kind), {**agent, "via": "api"})
    services.jobs.dispatch(failures.job_kind(services.db, kind, item_id), item_id)
    return jsonify(done), 202


def _db_id(value: int, what: str) -> int:
    # The int converter takes any size; one beyond BIGINT names nothing stored here.
    if value > MAX_ID:
        raise ApiError(404, f"{what}_not_found", f"there is no {what} {value}")
    return value
