"""Zendesk through zenpy: the `Tickets` and `TicketWriter` ports of `workflows.ports`.

API reference: https://developer.zendesk.com/api-reference/ticketing/introduction/

zenpy is used for URLs, auth and (de)serialisation; what it does on its own is switched off,
because this service has other rules:

- zenpy sleeps without bound on a 429 (`BaseApi._call_api` loops on `Retry-After`). The
  response hook on our own session raises on every 4xx/5xx before zenpy sees the response,
  so RetryPolicy stays the only retry loop and decides with `Retry-After` as its floor.
- Passing our own `requests.Session` keeps zenpy from mounting its urllib3 `Retry` adapter.
- `disable_cache=True`, and every update is a fresh `Ticket(id=...)`: zenpy serialises only
  the attributes set on the object, so an update sends only the changed field and a stale
  copy of a ticket is never written back.
- zenpy builds `<protocol>://<subdomain>.<domain>/api/v2/...` with `protocol` hard-coded to
  https on each Api object; `scheme` rewrites it there (never through zenpy's process-wide
  `ZENPY_FORCE_SCHEME` / `ZENPY_FORCE_NETLOC` environment variables).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import requests
from zenpy import Zenpy
from zenpy.lib.api import BaseApi
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException, ZenpyException

from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.gather import answer, settled
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk_errors import HttpFailure, on_response, upstream_error
from helpdesk_app.upstreams.zendesk_pacing import PacedAdapter, ZendeskPacing
from workflows.errors import UpstreamError
from workflows.facts import Gather, one_by_one
from workflows.model import Requester

log = logging.getLogger(__name__)
T = TypeVar("T")

# Fields of a comment that may carry a note's marker (Zendesk renders `body` three ways).
MARKER_FIELDS = ("body", "plain_body", "html_body")


class ZendeskAdapter:
    """One method per Zendesk endpoint the service uses; failures become UpstreamError."""

    def __init__(
        self,
        subdomain: str,
        email: str,
        api_token: str,
        *,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        domain: str = "zendesk.com",
        scheme: str = "https",
        pacing: ZendeskPacing | None = None,
        service_user_id: int | None = None,
        gather: Gather = one_by_one,
    ) -> None:
        """`domain` may carry a port and `scheme` may be "http", for a local double.
        `service_user_id` is this service's own Zendesk user (ZENDESK_SERVICE_USER_ID);
        when not given it is read once from `GET /api/v2/users/me`. `gather` sends reads
        that need no answer from each other (a user and their identities) at once.

        zenpy always puts the subdomain in front of the domain, so a loopback double needs a
        host name that resolves (e.g. subdomain "zendesk", domain "sandbox.test:8025" with a
        hosts entry), or the split "127.0.0" + "1:8025".
        """
        if not api_token:
            # zenpy's own error for a missing token echoes its locals(); fail before it.
            raise ValueError("api_token is required")
        if scheme not in ("https", "http"):
            raise ValueError(f"unsupported scheme {scheme!r}")
        self._retry = retry or RetryPolicy()
        self._pacing = pacing
        self._service_user_id = service_user_id
        self._gather = gather
        self._zenpy_args = dict(subdomain=subdomain, domain=domain, email=email, token=api_token,
                                timeout=timeout_s, disable_cache=True)
        self._scheme = scheme
        self._url = f"{scheme}://{subdomain}.{domain}"
        # zenpy keeps per-call state on its Api objects (BaseApi._serialize sets
        # `self._dirty_object`, `callsafety` is rewritten after each response), and
        # requests.Session is not documented as thread-safe: each thread gets its own
        # session and Zenpy, made on first use.
        self._local = threading.local()
        self._mine()  # the construction's own checks (zenpy's) fail here, not at first use

    def _mine(self) -> tuple[requests.Session, Zenpy]:
        made = getattr(self._local, "made", None)
        if made is None:
            session = trace.send_request_ids(requests.Session(), self._url)
            session.hooks["response"].append(on_response)
            if self._pacing is not None:
                for prefix in ("https://", "http://"):
                    session.mount(prefix, PacedAdapter(self._pacing))
            zenpy = Zenpy(session=session, **self._zenpy_args)
            _use_scheme(zenpy, self._scheme)
            made = self._local.made = (session, zenpy)
        return made

    @property
    def _session(self) -> requests.Session:
        return self._mine()[0]

    @property
    def _zenpy(self) -> Zenpy:
        return self._mine()[1]

    def budget_wait(self) -> float:
        """Seconds until the account's request budget has room again, as far as this
        process knows (0.0 when it knows of no refusal); asks no one."""
        return self._pacing.budgets.known_wait(self._pacing.shared()) if self._pacing else 0.0

    def service_user_id(self) -> int:
        """The id of the user this adapter authenticates as: the author of every note the
        service writes. Read once from Zendesk when it was not configured.

        https://developer.zendesk.com/api-reference/ticketing/users/users/#show-the-currently-authenticated-user
        """
        if self._service_user_id is None:
            me = self._retried("show_me", lambda: self._zenpy.users.me())
            if not me or not me.id:  # an anonymous answer: no author to trust
                raise UpstreamError("zendesk", "users/me named no user", status=None,
                                    code="no_service_user", transient=True)
            self._service_user_id = int(me.id)
        return self._service_user_id

    # -- read side (port `Tickets`, and what the sidebar needs) ---------------------------

    def ticket(self, ticket_id: int) -> dict[str, Any] | None:
        """The ticket and its comments; None when it does not exist.

        https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket
        https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments
        """
        ticket = self._show_ticket(ticket_id)
        if ticket is None:
            return None
        ticket["comments"] = self._retried("list_comments", lambda: self._comments(ticket_id))
        return ticket

    def ticket_access(self, ticket_id: int) -> dict[str, Any] | None:
        """The ticket's fields without its comments (who may see it); None when it does
        not exist. https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket
        """
        return self._show_ticket(ticket_id)

    def requester(self, ticket_id: int) -> Requester | None:
        """Ticket -> requester -> email, verified only by a verified email identity.

        https://developer.zendesk.com/api-reference/ticketing/users/user_identities/#list-identities
        """
        ticket = self._show_ticket(ticket_id)
        return None if ticket is None else self.requester_of(ticket)

    def requester_of(self, ticket: dict[str, Any]) -> Requester:
        """The requester of a ticket already read (`ticket_access`): the user and their
        identities, read at once (the identities need only the user's id)."""
        ticket_id, user_id = ticket["id"], ticket["requester_id"]
        found, identities = settled(self._gather, [lambda: self._show_user(user_id),
                                                   lambda: self._identities(user_id)])
        user = answer(found)
        email = user.get("email") if user else None
        if user is None or not email:
            # A deleted or email-less requester is a fact: nobody verified to match on.
            return Requester(ticket_id=ticket_id, user_id=user_id, email=None, verified=False)
        return Requester(
            ticket_id=ticket_id,
            user_id=user_id,
            email=email,
            verified=_email_verified(answer(identities), email),
            name=user.get("name") or "",
        )

    def user(self, user_id: int) -> dict[str, Any] | None:
        """id, email, name, role, and the groups (id and name) the sidebar's policy reads.

        https://developer.zendesk.com/api-reference/ticketing/users/users/#show-user
        https://developer.zendesk.com/api-reference/ticketing/groups/groups/#list-groups
        (`GET /api/v2/users/{user_id}/groups`)
        """
        found, listed = settled(self._gather, [
            lambda: self._show_user(user_id),
            lambda: self._retried("list_user_groups", lambda: self._groups(user_id))])
        user = answer(found)
        if user is None:  # the groups of no user: whatever their read answered, unused
            return None
        groups = answer(listed)
        user["groups"] = groups
        user["group_ids"] = [group["id"] for group in groups]
        return user

    # -- write side (port `TicketWriter`) ---------------------------------------------------

    def add_internal_note(self, ticket_id: int, body: str, *, marker: str) -> None:
        """A private comment (`public: false`), posted only if no comment holds `marker`.

        https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
        """
        if not marker:
            raise ValueError("a note needs its marker")
        # The marker is how a later attempt recognises this note; make sure it is there.
        text = body if marker in body else f"{body}\n\n{marker}"

        def post_unless_present() -> None:
            # Every attempt, the first and each retry, looks for the marker first: a timed-out
            # PUT may still have landed, and a comment can never be taken back.
            if self._attempt(lambda: self._has_marker(ticket_id, marker)):
                log.info("zendesk.note.already_present",
                         extra={"ticket_id": ticket_id, "marker": marker})
                return
            note = Ticket(id=ticket_id, comment=Comment(body=text, public=False))
            self._attempt(lambda: self._zenpy.tickets.update(note))

        # Safe to repeat only because each attempt re-checks; RetryPolicy's `before_retry`
        # would turn "the note is already there" into a failure instead of a success.
        self._retry.call(post_unless_present, name="zendesk.add_internal_note")

    def update_ticket(self, ticket_id: int, *, note: str, marker: str, tags: list[str],
                      status: str | None = None, custom_fields: dict[int, str] | None = None) -> None:
        """A run's result as one Update Ticket: the private note (only if no comment of ours
        holds `marker`), `tags` added to the ticket's, the custom fields and the status.

        Update Ticket replaces a ticket's tags ("Adding tags to tickets without overwriting
        existing tags": https://developer.zendesk.com/documentation/ticketing/managing-tickets/adding-tags-to-tickets-without-overwriting-existing-tags/),
        so the update sends the ticket's tags with ours added, as a safe update stamped
        with the `updated_at` it was read with: if anything changed the ticket since,
        Zendesk answers 409 and applies nothing, and the ticket is read again
        (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#protecting-against-ticket-update-collisions).
        Each attempt reads the comments and the ticket at once and sends only what differs:
        a retry after an update that landed sends nothing.
        """
        if not marker:
            raise ValueError("a note needs its marker")
        text = note if marker in note else f"{note}\n\n{marker}"
        wanted = _Wanted(text, [t.lower() for t in tags], status, dict(custom_fields or {}))

        def update_once() -> None:
            for _ in range(CONFLICT_ATTEMPTS):
                try:
                    return self._safe_update(ticket_id, marker, wanted)
                except UpstreamError as error:
                    if error.status != 409:
                        raise
                    conflict = error
                    log.info("zendesk.update_conflict", extra={"ticket_id": ticket_id})
            raise conflict

        # Each attempt re-reads, as add_internal_note's do (a timed-out PUT may have landed).
        self._retry.call(update_once, name="zendesk.update_ticket")

    def _safe_update(self, ticket_id: int, marker: str, wanted: "_Wanted") -> None:
        noted, shown = settled(self._gather, [
            lambda: self._attempt(lambda: self._has_marker(ticket_id, marker)),
            lambda: self._attempt(lambda: self._zenpy.tickets(id=ticket_id))])
        changes = wanted.changes(answer(shown), noted=answer(noted))
        if not changes:
            log.info("zendesk.update_already_made", extra={"ticket_id": ticket_id, "marker": marker})
            return
        update = Ticket(id=ticket_id, safe_update=True, updated_stamp=answer(shown).updated_at, **changes)
        self._attempt(lambda: self._zenpy.tickets.update(update))

    def add_tags(self, ticket_id: int, tags: list[str]) -> None:
        """Adds tags, keeping the others (PUT, unlike POST which replaces them). Idempotent.

        https://developer.zendesk.com/api-reference/ticketing/ticket-management/tags/#add-tags
        """
        tags = list(tags)
        self._retried("add_tags", lambda: self._zenpy.tickets.add_tags(ticket_id, tags))

    def set_custom_field(self, ticket_id: int, field_id: int, value: str) -> None:
        """Sends only this custom field. Idempotent.

        https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
        """
        self._update(ticket_id, custom_fields=[{"id": field_id, "value": value}])

    def set_status(self, ticket_id: int, status: str) -> None:
        """Sends only the status. Idempotent.

        https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
        """
        self._update(ticket_id, status=status)

    # -- one endpoint each, one attempt each ------------------------------------------------

    def _show_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        return self._retried_or_none(
            "show_ticket", lambda: _ticket_fields(self._zenpy.tickets(id=ticket_id))
        )

    def _show_user(self, user_id: int) -> dict[str, Any] | None:
        return self._retried_or_none(
            "show_user", lambda: _user_fields(self._zenpy.users(id=user_id))
        )

    def _comments(self, ticket_id: int) -> list[dict[str, Any]]:
        # Consumed here, inside the attempt: zenpy fetches later pages lazily.
        return [_comment_fields(c) for c in self._zenpy.tickets.comments(ticket=ticket_id)]

    def _has_marker(self, ticket_id: int, marker: str) -> bool:
        """Only the service's own words count: a private comment by its own user. A
        customer's comment quoting a marker neither hides a note nor stands for one."""
        me = self.service_user_id()
        for comment in self._zenpy.tickets.comments(ticket=ticket_id):
            if comment.public is not False or comment.author_id != me:
                continue
            if any(marker in (getattr(comment, f, None) or "") for f in MARKER_FIELDS):
                return True
        return False

    def _identities(self, user_id: int) -> list[Any]:
        return self._retried(
            "list_identities", lambda: list(self._zenpy.users.identities(id=user_id)))

    def _groups(self, user_id: int) -> list[dict[str, Any]]:
        # One call gives ids and names (the policy may name a group either way), where group
        # memberships would give ids only. Consumed here, inside the attempt: zenpy fetches
        # later pages lazily. A deleted group grants nothing, should Zendesk still list it.
        return [{"id": group.id, "name": group.name}
                for group in self._zenpy.users.groups(user=user_id)
                if not getattr(group, "deleted", False)]

    def _update(self, ticket_id: int, **fields: Any) -> None:
        # A fresh object per attempt: zenpy serialises only what is set on it (id and
        # `fields`), and tracks "dirty" attributes on objects it has already sent.
        self._retried(
            "update_ticket", lambda: self._zenpy.tickets.update(Ticket(id=ticket_id, **fields))
        )

    # -- retries and error mapping ----------------------------------------------------------

    def _retried(self, name: str, fn: Callable[[], T]) -> T:
        """Reads, and writes that are idempotent: every transient failure may be retried."""
        return self._retry.call(lambda: self._attempt(fn), name=f"zendesk.{name}")

    def _retried_or_none(self, name: str, fn: Callable[[], T]) -> T | None:
        try:
            return self._retried(name, fn)
        except UpstreamError as error:
            if error.status == 404:
                return None  # not found is a fact (workflows.ports)
            raise

    @staticmethod
    def _attempt(fn: Callable[[], T]) -> T:
        """One call; the only place zenpy's and requests' failures become UpstreamError."""
        try:
            return fn()
        except (HttpFailure, requests.RequestException, ZenpyException, APIException) as exc:
            # `from None`: the cause holds the prepared request, Authorization header included.
            raise upstream_error(exc) from None


def _use_scheme(zenpy: Zenpy, scheme: str) -> None:
    """Sets `protocol` on every zenpy Api object, nested ones (users.identities) included."""
    pending: list[object] = [zenpy]
    seen: set[int] = set()
    while pending:
        for value in vars(pending.pop()).values():
            if isinstance(value, BaseApi) and id(value) not in seen:
                seen.add(id(value))
                value.protocol = scheme
                pending.append(value)


# A safe update that lost this many races in a row gives up (a transient failure, retried).
CONFLICT_ATTEMPTS = 3


@dataclass(frozen=True)
class _Wanted:
    """What a ticket should hold after a run's update."""

    note: str
    tags: list[str]
    status: str | None
    custom_fields: dict[int, str]

    def changes(self, ticket: Ticket, *, noted: bool) -> dict[str, Any]:
        """The fields of an update that make `ticket` hold it; {} when it does already."""
        changes: dict[str, Any] = {}
        if not noted:
            changes["comment"] = Comment(body=self.note, public=False)
        has = list(ticket.tags or [])
        if missing := [t for t in self.tags if t not in has]:
            changes["tags"] = has + missing
        if self.status is not None and ticket.status != self.status:
            changes["status"] = self.status
        values = {f.get("id"): f.get("value") for f in ticket.custom_fields or []}
        fields = [{"id": i, "value": v} for i, v in self.custom_fields.items() if values.get(i) != v]
        if fields:
            changes["custom_fields"] = fields
        return changes


def _email_verified(identities: list[Any], email: str) -> bool:
    wanted = email.casefold()
    return any(
        i.type == "email" and (i.value or "").casefold() == wanted and i.verified is True
        for i in identities
    )


def _ticket_fields(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "tags": list(ticket.tags or []),
        "requester_id": ticket.requester_id,
        # Who may see it under Zendesk's rules (access/tickets.py).
        "group_id": ticket.group_id,
        "assignee_id": ticket.assignee_id,
        "organization_id": ticket.organization_id,
    }


def _comment_fields(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author_id": comment.author_id,
        "body": comment.body,
        "public": comment.public,
        "created_at": comment.created_at,
    }


def _user_fields(user: Any) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "ticket_restriction": user.ticket_restriction,
            "organization_id": user.organization_id}
