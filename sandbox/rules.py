"""The rules the sandbox shares with the real systems, as pure functions.

The portal's linking semantics (portal-admin-api.md, "Linking semantics" and the PUT's
errors) and GitLab's membership rules (sandbox-scenarios.md). The sandbox's state applies
them to its records; the tests' in-memory world applies the same functions to its own, so
the rules are written once. Records may be dicts (the sandbox) or objects with attributes
(the tests' dataclasses); `_get` reads either.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FREE = "free"
OWNER = 50


class Refusal(Exception):
    """The portal refuses a link: the contract's status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Link:
    """What linking changes: the subscription's new namespace, the subscriptions a force
    unlinks, and every namespace whose plan must be recomputed."""

    namespace_id: int
    unlinked: tuple[str, ...]
    touched: tuple[int, ...]


def _get(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def namespace_plan(subscriptions: Iterable[Any], namespace_id: int) -> str:
    """The plan_code of the newest active seats subscription linked to the namespace, else
    free ("newest": the latest start_date)."""
    linked = [s for s in subscriptions if _get(s, "namespace_id") == namespace_id
              and _get(s, "status") == "active" and _get(s, "kind") == "seats"]
    if not linked:
        return FREE
    newest = max(linked, key=lambda s: _get(s, "start_date") or "")
    return _get(newest, "plan_code") or FREE


def plan_link(subscriptions: Iterable[Any], name: str, namespace_id: int, *, force: bool,
              billable_members: int | None, locked: bool = False) -> Link:
    """Judge `PUT /subscriptions/{name}/namespace` (a link already in effect only re-pushes).

    Raises Refusal in the contract's order: read_only, not_seats_subscription, then (only
    without force) namespace_taken and seats_exceeded. `billable_members` is None when the
    portal cannot see the namespace, and then no seat count is judged.
    """
    subs = list(subscriptions)
    sub = next(s for s in subs if _get(s, "name") == name)
    if locked:
        raise Refusal(409, "read_only", "This subscription is locked by the portal.")
    if _get(sub, "kind") != "seats":
        raise Refusal(422, "not_seats_subscription", f"{name} is a {_get(sub, 'kind')} subscription.")
    if _get(sub, "namespace_id") == namespace_id:
        # Idempotent by design (200, the current state), and it pushes the namespace's plan
        # again, checking nothing else: how a plan that never reached the group is repaired.
        return Link(namespace_id=namespace_id, unlinked=(), touched=(namespace_id,))
    others = [s for s in subs if _get(s, "namespace_id") == namespace_id and _get(s, "name") != name]
    if not force:
        _refuse_unforced(sub, others, namespace_id, billable_members)
    unlinked = tuple(_get(s, "name") for s in others if _get(s, "kind") == "seats")
    old = _get(sub, "namespace_id")
    touched = tuple(n for n in (old, namespace_id) if n is not None)
    return Link(namespace_id=namespace_id, unlinked=unlinked, touched=touched)


def _refuse_unforced(sub: Any, others: list[Any], namespace_id: int,
                     billable_members: int | None) -> None:
    if others:
        raise Refusal(409, "namespace_taken",
                      f"Namespace {namespace_id} is linked to subscription {_get(others[0], 'name')}.")
    seats = _get(sub, "seats")
    if billable_members is not None and seats is not None and billable_members > seats:
        raise Refusal(422, "seats_exceeded", f"The namespace has {billable_members} billable "
                                             f"members; the subscription has {seats} seats.")


def refuse_customer_link(customer_id: int, linked: int | None, gitlab_user_id: int, *,
                         user_exists: bool) -> None:
    """PUT /customers/{id}/gitlab_link's errors (v2): 409 `already_linked` for a customer
    linked to another user, 422 `gitlab_user_not_found`. Linked to this user: no error."""
    if linked is not None and linked != gitlab_user_id:
        raise Refusal(409, "already_linked",
                      f"Customer {customer_id} is linked to GitLab.com user {linked}; unlink it first.")
    if not user_exists:
        raise Refusal(422, "gitlab_user_not_found", f"No GitLab.com user with id {gitlab_user_id}.")


def access_level(namespace_id: int, user_id: int, *, parent_of: Callable[[int], int | None],
                 level_of: Callable[[int, int], int | None]) -> int | None:
    """A member's level in a group, direct or inherited from its ancestors (the highest
    wins: an Owner of a parent group is an Owner of its subgroups); None if not a member."""
    levels, seen = [], set()
    current: int | None = namespace_id
    while current is not None and current not in seen:  # a cycle in bad data must not hang
        seen.add(current)
        level = level_of(current, user_id)
        if level is not None:
            levels.append(level)
        current = parent_of(current)
    return max(levels) if levels else None


def personal_namespace_owner(namespace: Any, username: str) -> bool:
    """A personal namespace (`kind: user`) is owned by the user whose username is its path."""
    return _get(namespace, "kind") == "user" and \
        _get(namespace, "full_path").casefold() == username.casefold()
