"""The small protocols through which workflows see the world; helpdesk_app implements them.

Conventions every implementation keeps:
- a lookup of something that does not exist returns None (or an empty list): not found is a
  fact the plan reports, not an error;
- any other failure raises `workflows.errors.UpstreamError` after the adapter's own retries;
- mutating calls take an idempotency key so that a repeated call has one effect.
"""
from __future__ import annotations

from typing import Protocol

from .model import Customer, GitLabUser, Namespace, Requester, Subscription


class Portal(Protocol):
    """The customers portal admin API (docs/portal-admin-api.yaml)."""

    def subscription(self, name: str) -> Subscription | None: ...

    def customer(self, customer_id: int) -> Customer | None: ...

    def customers_by_email(self, email: str) -> list[Customer]: ...

    def customer_subscriptions(self, customer_id: int) -> list[Subscription] | None: ...

    def namespace_subscriptions(self, namespace_id: int) -> list[Subscription]: ...

    def link_subscription(
        self, name: str, namespace_id: int, *, force: bool, idempotency_key: str
    ) -> Subscription: ...

    def unlink_subscription(self, name: str, *, idempotency_key: str) -> Subscription: ...

    def unlink_customer(self, customer_id: int, *, idempotency_key: str) -> Customer: ...

    def link_customer(self, customer_id: int, gitlab_user_id: int, *, idempotency_key: str) -> Customer: ...


class GitLab(Protocol):
    """GitLab.com's REST API, read side (admin token)."""

    def namespace(self, id_or_path: int | str) -> Namespace | None: ...

    def access_level(self, group_id: int, user_id: int) -> int | None:
        """The user's access level in the group, direct or inherited; None if not a member."""
        ...

    def user(self, user_id: int) -> GitLabUser | None: ...

    def user_by_username(self, username: str) -> GitLabUser | None:
        """The user with exactly this username (case-insensitive); None if there is none."""
        ...

    def users_by_email(self, email: str) -> list[GitLabUser]:
        """Users whose email equals `email` case-insensitively (exact, not fuzzy)."""
        ...


class Tickets(Protocol):
    """Zendesk, read side: who is asking."""

    def requester(self, ticket_id: int) -> Requester | None:
        """The ticket's requester; None when the ticket does not exist."""
        ...


class TicketWriter(Protocol):
    """Zendesk, write side: how results go back to the ticket."""

    def add_internal_note(self, ticket_id: int, body: str, *, marker: str) -> None: ...

    def update_ticket(self, ticket_id: int, *, note: str, marker: str, tags: list[str],
                      status: str | None = None, custom_fields: dict[int, str] | None = None) -> None:
        """One ticket update: the note (unless a comment holds `marker`), the tags added,
        the custom fields and the status; a repeat changes nothing already there."""
        ...


class IssueTracker(Protocol):
    """GitLab issues in the escalation project."""

    def create_issue(
        self, title: str, description: str, *, labels: list[str], marker: str
    ) -> dict: ...

    def comment_on_issue(self, issue_iid: int, body: str, *, marker: str | None = None) -> dict: ...
