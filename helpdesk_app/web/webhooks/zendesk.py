"""`POST /webhooks/zendesk`: verify on the raw bytes, record, answer — no upstream call.

202 for a new delivery (a job triages the ticket later), 200 for a repeated one or an event
the service does not handle (a 4xx there counts against Zendesk's circuit breaker), 401 for
a bad, missing or stale signature, 400 for a body that is not JSON or lacks what its shape
needs, 413 above the size limit.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request

from helpdesk_app.engine import zendesk_payloads
from helpdesk_app.engine.deliveries import record_delivery
from helpdesk_app.engine.triage_job import process_zendesk_delivery
from helpdesk_app.security.zendesk_webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_zendesk_signature,
)

blueprint = Blueprint("zendesk_webhook", __name__)
log = logging.getLogger(__name__)
JOB_KIND = "zendesk_delivery"


@blueprint.record_once
def _register_job(state) -> None:
    state.app.extensions["helpdesk"].jobs.register(JOB_KIND, process_zendesk_delivery)


@blueprint.post("/webhooks/zendesk")
def receive():
    services = current_app.extensions["helpdesk"]
    body = request.get_data(cache=False)  # raw bytes, before any parsing
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    verify_zendesk_signature(
        services.settings.zendesk_webhook_secret.get_secret_value(),
        request.headers.get(SIGNATURE_HEADER), timestamp, body, now=datetime.now(timezone.utc),
    )
    delivery = zendesk_payloads.parse(body, request.headers, timestamp)
    status = delivery.status(services.settings.zendesk_service_user_id)
    # Triage starts by reading the ticket: while this process knows Zendesk's budget is
    # spent, its job would only defer it (triage_job.py), so it is recorded as due when the
    # budget has room, and the sweeper dispatches it then. No job, no second write.
    due_in_s = services.zendesk.budget_wait() if status == "received" else 0.0
    delivery_id = record_delivery(services.db, source="zendesk", key=delivery.key, body=body,
                                  headers=request.headers, status=status,
                                  also_keys=delivery.also_keys, due_in_s=due_in_s)
    if delivery_id is None:
        return jsonify(status="duplicate", delivery_key=delivery.key), 200
    if status == "ignored":
        return jsonify(status="ignored", event=delivery.event), 200
    if due_in_s <= 0:  # else recorded as due later (the row's next_attempt_at)
        services.jobs.dispatch(JOB_KIND, delivery_id, noted=True)
    return jsonify(status="accepted", delivery_key=delivery.key, ticket_id=delivery.ticket_id), 202


@blueprint.errorhandler(SignatureError)
def signature_refused(error: SignatureError):
    log.warning("webhook.zendesk.refused", extra={"code": error.code})
    return jsonify(error={"code": error.code, "message": error.message}), 401


@blueprint.errorhandler(zendesk_payloads.MalformedDelivery)
def malformed(error: zendesk_payloads.MalformedDelivery):
    return jsonify(error={"code": "malformed_delivery", "message": str(error)}), 400
