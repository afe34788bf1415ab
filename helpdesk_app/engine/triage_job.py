"""Triage of a ticket: the job of a recorded Zendesk delivery (triage.md).

Read the ticket, extract and classify (`workflows.triage`), diagnose what was found (read
only), and keep the ticket's findings: stored per ticket with their hash, and one internal
note per distinct hash, found again by its marker. Triage never changes the portal or
GitLab; on Zendesk it writes one note and one tag.

`ticket.comment_added` triages again only while nothing has been found yet (no
subscription, namespace or customer id), so a long conversation costs one triage, not one
per message. The service's own events were already set aside at intake.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

import workflows
from helpdesk_app import metrics
from helpdesk_app.engine.leases import Heartbeat, claim_delivery, release, worker_id
from helpdesk_app.engine.zendesk_payloads import MalformedDelivery, parse
from helpdesk_app.storage.group_commit import group_commit
from helpdesk_app.storage.models import Delivery, TicketFindings, utcnow
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk_pacing import BUDGET_SPENT
from workflows import notes
from workflows.diagnose import admin_not_ruled_out
from workflows.errors import BadInput, UpstreamError
from workflows.inputs import namespace_ref
from workflows.triage import RECOMMENDED, Findings, TicketText, triage

log = logging.getLogger(__name__)

TAG_PREFIX = "lnr_triage_"
FOUND_KEYS = ("subscriptions", "namespaces", "customer_ids")
# The stored hash of findings read without a note: never equal to a digest, so the next
# triage that may write notes writes one.
UNNOTED = "read-only:"


def process_zendesk_delivery(services: Any, delivery_id: int) -> None:
    """Claimed once; triaged; processed or ignored. An upstream failure tries again later
    (backoff, Retry-After as a floor), so a ticket is never left untriaged."""
    owner, db = worker_id(), services.db
    wait = services.zendesk.budget_wait()
    if wait > 0:  # every triage starts by reading the ticket: no room to, so no attempt yet
        _defer(db, delivery_id, wait)
        return
    if not claim_delivery(db, delivery_id, owner, services.timing.lease_s):
        log.info("delivery.not_claimed", extra={"delivery_id": delivery_id})
        return
    with Heartbeat(db, Delivery, delivery_id, owner, services.timing.lease_s):
        try:
            status = _process(services, delivery_id)
        except UpstreamError as error:
            _retry_later(services, delivery_id, owner, error)
            return
    release(db, Delivery, delivery_id, owner, status=status, processed_at=utcnow(),
            next_attempt_at=None)
    metrics.DELIVERIES.labels("zendesk", status).inc()
    log.info("delivery.processed", extra={"delivery_id": delivery_id, "status": status})


def _process(services: Any, delivery_id: int) -> str:
    with services.db() as session:
        delivery = session.get(Delivery, delivery_id)
        body, headers = delivery.body, delivery.headers or {}
    if body is None:  # retention removed it; nothing left to read
        return "ignored"
    try:
        event = parse(body, headers, headers.get("X-Zendesk-Webhook-Signature-Timestamp", ""))
    except MalformedDelivery:  # intake accepted it, so this cannot happen; never loop on it
        return "ignored"
    if event.ticket_id is None or not event.handled:
        return "ignored"
    if event.event == "ticket.comment_added" and _found_already(services.db, event.ticket_id):
        return "ignored"
    return "processed" if triage_ticket(services, event.ticket_id) else "ignored"


def triage_ticket(services: Any, ticket_id: int, *, note: bool = True) -> dict[str, Any] | None:
    """Triage one ticket now; its stored findings, or None when the ticket does not exist.

    `note=False` reads only (the sidebar asking for a ticket that has no findings): no note,
    no tag, no Zendesk write. The findings are stored under a hash no note carries, so a
    later triage of the ticket (a webhook) still writes its note."""
    ticket = services.zendesk.ticket(ticket_id)
    if ticket is None:
        return None
    settings = services.settings
    findings = triage(ticket_text(ticket, services.zendesk.service_user_id()))
    confident = findings.confidence >= settings.triage_min_confidence
    # Read only, and only for License and Renewals requests: a 2FA ticket that names a
    # subscription gets its findings, not a diagnosis.
    diagnosis = _diagnose(services, findings, ticket_id) if findings.category != "other" else None
    record = {**findings.to_dict(),
              "recommended": _recommended(findings, diagnosis) if confident else None,
              "diagnosis": diagnosis.to_dict() if diagnosis else None}
    digest = _digest(record)
    if not note:
        if _stored_digest(services.db, ticket_id) is None:
            _store(services.db, ticket_id, record, UNNOTED + digest)
        return record
    if digest != _stored_digest(services.db, ticket_id):
        mark = services.marker("triage", f"{ticket_id}:{digest}")
        body = notes.triage_note(findings, diagnosis, min_confidence=settings.triage_min_confidence,
                                 mode=settings.mode, marker=mark)
        services.zendesk.add_internal_note(ticket_id, body, marker=mark)
        services.zendesk.add_tags(ticket_id, [TAG_PREFIX + findings.category])
        _store(services.db, ticket_id, record, digest)
        log.info("triage.noted", extra={"ticket_id": ticket_id, "category": findings.category})
    return record


def ticket_text(ticket: dict[str, Any], service_user_id: int | None) -> TicketText:
    """Subject, description, and the later comments that are not the service's own. Whose
    they are is their author's to say, never their text: a customer who quotes a marker
    is still triaged."""
    comments = [c for c in ticket.get("comments", [])[1:]  # the first one is the description
                if c.get("author_id") != service_user_id]
    return TicketText(subject=ticket.get("subject") or "", description=ticket.get("description") or "",
                      comments=tuple(c.get("body") or "" for c in comments))


def _diagnose(services: Any, findings: Findings, ticket_id: int) -> workflows.Plan | None:
    inputs = {"subscriptions": list(findings.subscriptions), "ticket_id": ticket_id,
              "namespaces": [n for n in findings.namespaces if _valid_namespace(n)],
              "customer_id": findings.customer_ids[0] if findings.customer_ids else None}
    # With nothing written, diagnose finds the customer by the requester's verified email.
    return workflows.plan("diagnose", services.ports, inputs, services.rules)


def _valid_namespace(path: str) -> bool:
    try:
        namespace_ref(path)
    except BadInput:
        return False
    return True


def _recommended(findings: Findings, diagnosis: workflows.Plan | None) -> str | None:
    found = [e["recommended"] for e in (diagnosis.recommendations if diagnosis else ())
             if e.get("recommended")]
    recommended = found[0] if found else RECOMMENDED.get(findings.category)
    if findings.category == "portal_502" and recommended == "associate" and diagnosis:
        # A portal 502 is usually an admin account linked by mistake (seed 001).
        admin = admin_not_ruled_out(diagnosis)
        if admin is not False:
            return "unlink_account" if admin else None
    return recommended


def _digest(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:notes.DIGEST_HEX]


def _found_already(db, ticket_id: int) -> bool:
    with db() as session:
        stored = session.scalar(select(TicketFindings.findings).where(TicketFindings.ticket_id == ticket_id))
    return bool(stored) and any(stored.get(key) for key in FOUND_KEYS)


def _stored_digest(db, ticket_id: int) -> str | None:
    with db() as session:
        return session.scalar(select(TicketFindings.findings_hash)
                              .where(TicketFindings.ticket_id == ticket_id))


def _store(db, ticket_id: int, record: dict[str, Any], digest: str) -> None:
    """Insert or update the ticket's one row; two triages at once: the later write wins,
    and both notes' markers differ only if their findings did."""
    with db() as session:
        row = session.scalar(select(TicketFindings).where(TicketFindings.ticket_id == ticket_id))
        if row is None:
            session.add(TicketFindings(ticket_id=ticket_id, findings=record, findings_hash=digest))
        else:
            row.findings, row.findings_hash = record, digest
        try:
            session.commit()
        except IntegrityError:  # another triage inserted it first
            session.rollback()
            _store(db, ticket_id, record, digest)


def _defer(db, delivery_id: int, wait_s: float) -> None:
    """Due again when the budget has room (the sweeper dispatches it then): one write,
    where claiming, being refused and releasing would take four, for every ticket of a
    backlog; and committed with the deliveries arriving meanwhile (storage/group_commit.py),
    as a storm of new tickets brings both at once."""
    due = utcnow() + timedelta(seconds=wait_s)
    group_commit(db).run(lambda connection: connection.execute(
        _DEFER, {"delivery_id": delivery_id, "due": due}).rowcount)
    log.info("triage.deferred", extra={"delivery_id": delivery_id, "wait_s": round(wait_s, 3)})


_DEFER = (update(Delivery).where(Delivery.id == bindparam("delivery_id"),
                                 Delivery.status.in_(("received", "failed")))
          .values(next_attempt_at=bindparam("due")))


def _retry_later(services: Any, delivery_id: int, owner: str, error: UpstreamError) -> None:
    with services.db() as session:
        attempts, last_error = session.execute(select(Delivery.attempts, Delivery.last_error)
                                               .where(Delivery.id == delivery_id)).one()
    attempts = attempts or 1
    if error.code == BUDGET_SPENT:
        _paced_later(services, delivery_id, owner, error, attempts, last_error or {})
        return
    if attempts >= services.timing.delivery_max_attempts:  # a dead letter: an operator's turn
        _bury(services, delivery_id, owner, error.to_dict(), attempts=attempts)
        return
    settings = services.settings
    backoff = RetryPolicy(base_delay_s=settings.run_retry_base_s, max_delay_s=settings.run_retry_cap_s)
    wait = backoff.delay(attempts, error.retry_after)
    release(services.db, Delivery, delivery_id, owner, status="failed", last_error=error.to_dict(),
            next_attempt_at=utcnow() + timedelta(seconds=wait))
    metrics.DELIVERIES.labels("zendesk", "failed").inc()
    log.warning("triage.retry_scheduled", extra={"delivery_id": delivery_id, "attempt": attempts,
                                                  "upstream": error.upstream, "wait_s": round(wait, 3)})


def _paced_later(services: Any, delivery_id: int, owner: str, error: UpstreamError,
                 attempts: int, last_error: dict[str, Any]) -> None:
    """Our own Zendesk budget ran out mid-way (the start found room; other jobs took it).
    Nothing failed, so the delivery is `received` again with its attempt given back, due
    when the budget has room: a long storm never dead-letters a ticket for pacing alone.
    These cuts have a cap of their own, DELIVERY_MAX_ATTEMPTS in a row, so a budget too
    small for even one triage ends in a dead letter an admin sees, not in a loop."""
    cuts = int(last_error.get("budget_cuts", 0)) + 1 if last_error.get("code") == BUDGET_SPENT else 1
    detail = {**error.to_dict(), "budget_cuts": cuts}
    if cuts >= services.timing.delivery_max_attempts:
        detail["message"] = (f"Zendesk's request budget (ZENDESK_REQUESTS_PER_MIN) ran out before "
                             f"this triage could finish, {cuts} times in a row")
        _bury(services, delivery_id, owner, detail, attempts=attempts)
        return
    wait = error.retry_after or 1.0
    release(services.db, Delivery, delivery_id, owner, status="received", attempts=attempts - 1,
            last_error=detail, next_attempt_at=utcnow() + timedelta(seconds=wait))
    log.info("triage.paced", extra={"delivery_id": delivery_id, "budget_cuts": cuts,
                                    "wait_s": round(wait, 3)})


def _bury(services: Any, delivery_id: int, owner: str, last_error: dict[str, Any], *,
          attempts: int) -> None:
    release(services.db, Delivery, delivery_id, owner, status="dead", last_error=last_error,
            next_attempt_at=None)
    metrics.DELIVERIES.labels("zendesk", "dead").inc()
    metrics.DEAD_LETTERS.labels("zendesk_delivery").inc()
    log.error("triage.dead", extra={"delivery_id": delivery_id, "attempts": attempts,
                                     "upstream": last_error.get("upstream"),
                                     "code": last_error.get("code")})
