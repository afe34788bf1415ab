"""The sandbox's one in-memory world: portal, GitLab and Zendesk records behind one lock.

Every public method takes the lock, so the three servers' threads see one consistent world
(a link changes a subscription and a namespace's plan in one step). Methods return deep
copies: callers serialise them without the lock. Records are plain dicts in the scenario
format (scenario.py); vendor payload shapes are payloads.py's business.

Consistency rules (README.md): a namespace's plan follows its links (rules.namespace_plan),
recomputed whenever a link changes; a scenario's stated plan is loaded as written. Comments
are append-only (Zendesk never edits one; the first is the description). A mutating portal
request with an Idempotency-Key seen before gets the first answer again, or 422 when its
method, path or body differ.
"""
from __future__ import annotations

import copy
import itertools
import threading
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

from sandbox import faults as faults_module
from sandbox import rules
from sandbox import scenario as scenario_module
from sandbox.idempotency import IdempotencyKeys

Listener = Callable[[str, dict[str, Any]], None]
ZENDESK_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
ISSUE_STATES = {"close": "closed", "reopen": "opened"}


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotFound(Exception):
    """The record asked for does not exist (each API answers its own 404)."""


class Invalid(Exception):
    """A request the vendor would refuse as invalid (Zendesk 422, GitLab 400)."""


class Conflict(Exception):
    """A Zendesk safe update of a ticket changed since its `updated_stamp` (409)."""


class State:
    """Load with a checked scenario (scenario.load); `reset()` goes back to it."""

    def __init__(self, scenario: dict[str, Any], *, service_agent: dict[str, Any],
                 project: dict[str, Any], clock: Callable[[], str] = utc_now) -> None:
        self._lock = threading.RLock()
        self._scenario = copy.deepcopy(scenario)
        self._service_agent = dict(service_agent)
        self.project = dict(project)  # the escalation project: {"id", "path_with_namespace"}
        self._clock = clock
        self._listeners: list[Listener] = []
        # False models a portal that has not pushed plans to GitLab yet.
        self.push_plans = True
        self.reset()

    # --- life cycle ------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the scenario as loaded: records, faults, counters and ids."""
        with self._lock:
            s = copy.deepcopy(self._scenario)
            self.customers = {c["id"]: c for c in s["portal"]["customers"]}
            self.subscriptions = {x["name"]: x for x in s["portal"]["subscriptions"]}
            self.gitlab_users = {u["id"]: u for u in s["gitlab"]["users"]}
            self.namespaces = {n["id"]: n for n in s["gitlab"]["namespaces"]}
            self.members = {(m["namespace_id"], m["user_id"]): m["access_level"]
                            for m in s["gitlab"]["members"]}
            self.groups = {g["id"]: g for g in s["zendesk"]["groups"]}
            self.zendesk_users = {u["id"]: u for u in s["zendesk"]["users"]}
            self.zendesk_users.setdefault(self._service_agent["id"], dict(self._service_agent))
            self.ticket_fields = {f["id"]: f for f in s["zendesk"]["ticket_fields"]}
            self.faults = [copy.deepcopy(f) for f in s["faults"]]
            self._reset_activity()
            for ticket in s["zendesk"]["tickets"]:
                self._add_ticket(ticket)

    def _reset_activity(self) -> None:
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.issue_notes: dict[int, list[dict[str, Any]]] = {}
        self.idempotency = IdempotencyKeys(self._lock)
        self.portal_log: list[dict[str, Any]] = []
        self._ids = itertools.count(1)  # comments, issues and notes: unique, increasing

    def subscribe(self, listener: Listener) -> None:
        """`listener(event, record)` after `ticket.created` and `issue.state_changed`."""
        self._listeners.append(listener)

    def _emit(self, event: str, record: dict[str, Any]) -> None:
        for listener in self._listeners:  # outside the lock: listeners may be slow
            listener(event, copy.deepcopy(record))

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-ready, in the scenario's layout (GET /_sandbox/state)."""
        with self._lock:
            return copy.deepcopy({
                "portal": {"customers": list(self.customers.values()),
                           "subscriptions": list(self.subscriptions.values())},
                "gitlab": {"users": list(self.gitlab_users.values()),
                           "namespaces": list(self.namespaces.values()),
                           "members": [{"namespace_id": n, "user_id": u, "access_level": a}
                                       for (n, u), a in self.members.items()],
                           "project": self.project,
                           "issues": [dict(i, notes=self.issue_notes[i["iid"]])
                                      for i in self.issues.values()]},
                "zendesk": {"groups": list(self.groups.values()),
                            "users": list(self.zendesk_users.values()),
                            "tickets": [dict(t, comments=self.comments[t["id"]])
                                        for t in self.tickets.values()],
                            "ticket_fields": list(self.ticket_fields.values())},
                "faults": [f.to_dict() for f in self.faults],
                "counters": self._counters(),
                "portal_requests": self.portal_log,
            })

    # --- counters for tests ----------------------------------------------------------

    def counters(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._counters())

    def _counters(self) -> dict[str, Any]:
        per_key = Counter(r["idempotency_key"] for r in self.portal_log)
        return {
            "portal_mutations": len(self.portal_log),
            "portal_mutations_per_key": dict(per_key),
            "portal_idempotency_keys": len(per_key),
            "portal_changes": sum(1 for r in self.portal_log if r["effect"] == "applied"),
            "notes_per_ticket": {t: sum(1 for c in cs if c.get("via_api")) for t, cs in self.comments.items()},
            "issues": len(self.issues),
            "issue_notes": sum(len(n) for n in self.issue_notes.values()),
        }

    # --- faults --------------------------------------------------------------------------

    def add_faults(self, added: list[faults_module.Fault]) -> None:
        with self._lock:
            self.faults.extend(added)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = []

    def take_fault(self, upstream: str, method: str, path: str) -> faults_module.Fault | None:
        """The first rule matching the request, its use counted; None when none applies."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(upstream, method, path):
                    fault.hits += 1
                    return copy.copy(fault)
            return None

    # --- portal: reads -----------------------------------------------------------------

    def subscription(self, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._subscription(name))

    def _subscription(self, name: str) -> dict[str, Any]:
        return _found(self.subscriptions, name)

    def customer(self, customer_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._customer(customer_id))

    def _customer(self, customer_id: int) -> dict[str, Any]:
        return _found(self.customers, customer_id)

    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        wanted = email.strip().casefold()
        with self._lock:
            return copy.deepcopy([c for c in self.customers.values()
                                  if c["email"].casefold() == wanted])

    def customer_subscriptions(self, customer_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._customer(customer_id)
            return copy.deepcopy([s for s in self.subscriptions.values()
                                  if s["customer_id"] == customer_id])

    def namespace_subscriptions(self, namespace_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy([s for s in self.subscriptions.values()
                                  if s["namespace_id"] == namespace_id])

    # --- portal: mutations ---------------------------------------------------------------

    def portal_mutation(self, key: str, request: tuple, apply: Callable[[], tuple[int, Any]]
                        ) -> tuple[int, Any, bool]:
        """Run `apply` once per Idempotency-Key (idempotency.py): (status, payload, replayed).

        `request` is (method, path, parsed body); every call is logged for the counters.
        """
        with self._lock:
            (status, payload), happened = self.idempotency.answer(key, request, apply)
            effect = {"applied": "applied" if status < 300 else "refused",
                      "replayed": "replayed", "reused": "refused"}[happened]
            self._log(key, request, effect)
            return status, payload, happened == "replayed"

    def log_faulted(self, key: str | None, request: tuple) -> None:
        """A mutating request the sandbox failed on purpose still reached the portal's edge."""
        with self._lock:
            self._log(key, request, "faulted")

    def _log(self, key: str | None, request: tuple, effect: str) -> None:
        method, path, body = request
        self.portal_log.append({"method": method, "path": path, "body": copy.deepcopy(body),
                                "idempotency_key": key, "effect": effect, "at": self._clock()})

    def link_subscription(self, name: str, namespace_id: int, *, force: bool) -> dict[str, Any]:
        """PUT /subscriptions/{name}/namespace; raises NotFound or rules.Refusal."""
        with self._lock:
            sub = self._subscription(name)
            ns = self.namespaces.get(namespace_id)
            link = rules.plan_link(self.subscriptions.values(), name, namespace_id, force=force,
                                   billable_members=ns["billable_members_count"] if ns else None,
                                   locked=sub.get("locked", False))
            for other in link.unlinked:
                self.subscriptions[other]["namespace_id"] = None
            sub["namespace_id"] = namespace_id
            self._recompute(link.touched)  # a link in effect re-pushes its namespace's plan
            return copy.deepcopy(sub)

    def unlink_subscription(self, name: str) -> dict[str, Any]:
        """DELETE /subscriptions/{name}/namespace: the namespace's plan follows at once."""
        with self._lock:
            # `locked` guards links only: the contract gives DELETE no 409.
            sub = self._subscription(name)
            old, sub["namespace_id"] = sub["namespace_id"], None
            self._recompute((old,) if old is not None else ())
            return copy.deepcopy(sub)

    def unlink_customer(self, customer_id: int) -> dict[str, Any]:
        with self._lock:
            customer = self._customer(customer_id)
            customer["gitlab_user_id"] = None
            return copy.deepcopy(customer)

    def link_customer(self, customer_id: int, gitlab_user_id: int) -> dict[str, Any]:
        """PUT /customers/{id}/gitlab_link (v2); raises NotFound or rules.Refusal. Already
        linked to this user: the current state (idempotent); to another: 409."""
        with self._lock:
            customer = self._customer(customer_id)
            rules.refuse_customer_link(customer_id, customer["gitlab_user_id"], gitlab_user_id,
                                       user_exists=gitlab_user_id in self.gitlab_users)
            customer["gitlab_user_id"] = gitlab_user_id
            return copy.deepcopy(customer)

    def _recompute(self, namespace_ids: tuple[int, ...]) -> None:
        """The portal pushes the plan to GitLab (the real one may take a while)."""
        if not self.push_plans:
            return
        for namespace_id in namespace_ids:
            if namespace_id in self.namespaces:
                plan = rules.namespace_plan(self.subscriptions.values(), namespace_id)
                self.namespaces[namespace_id]["plan"] = plan

    # --- GitLab ----------------------------------------------------------------------------

    def namespace(self, ref: int | str) -> dict[str, Any]:
        """By id, or by full path (GitLab paths ignore case)."""
        with self._lock:
            return copy.deepcopy(self._namespace(ref))

    def _namespace(self, ref: int | str) -> dict[str, Any]:
        if isinstance(ref, int):
            found = self.namespaces.get(ref)
        else:
            found = next((n for n in self.namespaces.values()
                          if n["full_path"].casefold() == ref.casefold()), None)
        if found is None:
            raise NotFound(ref)
        return found

    def group_member(self, group_ref: int | str, user_id: int) -> tuple[dict, dict, int]:
        """(group, user, level) for `GET /groups/:id/members/all/:user_id`, inherited
        levels included. NotFound("group") for no such group (a personal namespace is no
        group), NotFound("member") for a user who is not a member."""
        with self._lock:
            try:
                group = self._namespace(group_ref)
            except NotFound:
                raise NotFound("group") from None
            if group["kind"] != "group":
                raise NotFound("group")
            user = self.gitlab_users.get(user_id)
            level = rules.access_level(
                group["id"], user_id, level_of=lambda n, u: self.members.get((n, u)),
                parent_of=lambda n: (self.namespaces.get(n) or {}).get("parent_id"))
            if user is None or level is None:
                raise NotFound("member")
            return copy.deepcopy(group), copy.deepcopy(user), level

    def gitlab_user(self, user_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(_found(self.gitlab_users, user_id))

    def personal_namespace_id(self, username: str) -> int | None:
        """The personal namespace whose owner, by the scenario rule, is this user."""
        with self._lock:
            return next((n["id"] for n in self.namespaces.values()
                         if rules.personal_namespace_owner(n, username)), None)

    def search_gitlab_users(self, term: str) -> list[dict[str, Any]]:
        """GitLab's user search is fuzzy: email, username or name containing the term."""
        wanted = term.strip().casefold()
        with self._lock:
            return copy.deepcopy([
                u for u in self.gitlab_users.values()
                if any(wanted in (u.get(k) or "").casefold() for k in ("email", "username", "name"))])

    # --- GitLab: escalation issues -------------------------------------------------------------

    def is_project(self, ref: str) -> bool:
        """`:id` of /projects/:id: the numeric id or the full path, any case."""
        return ref == str(self.project["id"]) or \
            ref.casefold() == self.project["path_with_namespace"].casefold()

    def create_issue(self, data: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise Invalid("title is missing")
        labels = data.get("labels") or []
        if isinstance(labels, str):  # GitLab takes a comma-separated string or an array
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        with self._lock:
            iid = max(self.issues, default=0) + 1
            now = self._clock()
            issue = {"id": 1000 + next(self._ids), "iid": iid, "title": title,
                     "description": data.get("description") or "", "state": "opened",
                     "labels": list(labels), "confidential": bool(data.get("confidential", False)),
                     "author": dict(author), "created_at": now, "updated_at": now,
                     "closed_at": None, "closed_by": None, "notes_count": 0}
            self.issues[iid] = issue
            self.issue_notes[iid] = []
            return copy.deepcopy(issue)

    def issue(self, iid: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._issue(iid))

    def _issue(self, iid: int) -> dict[str, Any]:
        return _found(self.issues, iid)

    def list_issues(self, *, search: str | None = None, fields: tuple[str, ...] = ("title", "description"),
                    state: str = "all") -> list[dict[str, Any]]:
        """Newest first, as GitLab lists them by default (order_by=created_at, sort=desc)."""
        wanted = (search or "").casefold()
        with self._lock:
            found = [i for i in self.issues.values()
                     if (state == "all" or i["state"] == state)
                     and any(wanted in (i.get(f) or "").casefold() for f in fields)]
            return copy.deepcopy(sorted(found, key=lambda i: i["iid"], reverse=True))

    def update_issue(self, iid: int, data: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """PUT /projects/:id/issues/:iid: `state_event` close or reopen, title, description.
        An actual change of state is announced to listeners (the Issue Hook)."""
        event = data.get("state_event")
        if event is not None and event not in ISSUE_STATES:
            raise Invalid("state_event does not have a valid value")
        with self._lock:
            issue = self._issue(iid)
            for name in ("title", "description"):
                if isinstance(data.get(name), str):
                    issue[name] = data[name]
            changed = event is not None and issue["state"] != ISSUE_STATES[event]
            issue["updated_at"] = self._clock()
            if changed:
                closing = event == "close"
                issue["state"] = ISSUE_STATES[event]
                issue["closed_at"] = issue["updated_at"] if closing else None
                issue["closed_by"] = dict(actor) if closing else None
                issue["last_action"], issue["last_actor"] = event, dict(actor)
            result = copy.deepcopy(issue)
        if changed:
            self._emit("issue.state_changed", result)
        return result

    def issue_notes_of(self, iid: int) -> list[dict[str, Any]]:
        with self._lock:
            self._issue(iid)
            return copy.deepcopy(self.issue_notes[iid])

    def add_issue_note(self, iid: int, body: Any, author: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, str) or not body.strip():
            raise Invalid("body is missing")
        with self._lock:
            issue = self._issue(iid)
            now = self._clock()
            note = {"id": 5000 + next(self._ids), "body": body, "author": dict(author),
                    "created_at": now, "updated_at": now, "noteable_id": issue["id"],
                    "noteable_iid": iid}
            self.issue_notes[iid].append(note)
            issue["notes_count"] += 1
            return copy.deepcopy(note)

    # --- Zendesk ------------------------------------------------------------------------------

    def zendesk_user(self, user_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(_found(self.zendesk_users, user_id))

    def zendesk_agent_by_email(self, email: str) -> dict[str, Any] | None:
        """The agent or admin an API token acts as (Zendesk tokens are the account's)."""
        wanted = email.casefold()
        with self._lock:
            return copy.deepcopy(next((u for u in self.zendesk_users.values()
                                       if (u.get("email") or "").casefold() == wanted
                                       and u["role"] in ("agent", "admin")), None))

    def user_groups(self, user_id: int) -> list[dict[str, Any]]:
        with self._lock:
            user = self.zendesk_users.get(user_id)
            if user is None:
                raise NotFound(user_id)
            return copy.deepcopy([self.groups[g] for g in user["group_ids"] if g in self.groups])

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._ticket(ticket_id))

    def _ticket(self, ticket_id: int) -> dict[str, Any]:
        return _found(self.tickets, ticket_id)

    def list_tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(sorted(self.tickets.values(), key=lambda t: t["id"]))

    def ticket_comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._ticket(ticket_id)
            return copy.deepcopy(self.comments[ticket_id])

    def create_ticket(self, data: dict[str, Any]) -> dict[str, Any]:
        """A new ticket (the sandbox's own method; listeners get `ticket.created`)."""
        with self._lock:
            fields = {"id": max(self.tickets, default=0) + 1, **data}
            ticket = scenario_module.record("ticket", fields, "ticket")
            if ticket["id"] in self.tickets:
                raise Invalid(f"ticket {ticket['id']} exists")
            self._add_ticket(ticket)
            result = copy.deepcopy(self.tickets[ticket["id"]])
        self._emit("ticket.created", result)
        return result

    def _add_ticket(self, ticket: dict[str, Any]) -> None:
        now = self._clock()
        record = {k: v for k, v in ticket.items() if k != "comments"}
        record.setdefault("created_at", now)
        record.setdefault("updated_at", record["created_at"])
        self.tickets[ticket["id"]] = record
        # Zendesk's first comment is the ticket's description, by its requester.
        first = {"author_id": ticket["requester_id"], "body": ticket["description"], "public": True}
        self.comments[ticket["id"]] = []
        for comment in (first, *ticket.get("comments", [])):
            self._append_comment(ticket["id"], comment, via_api=False)

    def _append_comment(self, ticket_id: int, comment: dict[str, Any], *, via_api: bool) -> dict:
        stored = {"id": 10000 + next(self._ids), "author_id": comment.get("author_id"),
                  "body": comment["body"], "public": comment.get("public", True),
                  "created_at": self._clock(), "via_api": via_api}
        self.comments[ticket_id].append(stored)
        return stored

    def update_ticket(self, ticket_id: int, changes: dict[str, Any], actor_id: int
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """PUT /tickets/{id}: (ticket, audit events). Comments are only ever appended."""
        with self._lock:
            ticket = self._ticket(ticket_id)
            if ticket["status"] == "closed":
                raise Invalid("Status: closed prevents ticket update")
            if changes.get("safe_update") and changes.get("updated_stamp") != ticket["updated_at"]:
                raise Conflict(ticket_id)  # nothing of the update is applied
            _check_update(changes)
            events = self._apply_update(ticket, changes, actor_id)
            ticket["updated_at"] = self._clock()
            return copy.deepcopy(ticket), events

    def _apply_update(self, ticket: dict[str, Any], changes: dict[str, Any], actor_id: int) -> list[dict]:
        events: list[dict[str, Any]] = []
        for name in ("subject", "status", "priority", "type"):
            if name in changes and changes[name] != ticket.get(name):
                events.append({"type": "Change", "field_name": name, "value": changes[name],
                               "previous_value": ticket.get(name)})
                ticket[name] = changes[name]
        if "tags" in changes:
            ticket["tags"] = _unique_tags(changes["tags"])
        ticket["tags"] = _unique_tags(ticket["tags"] + list(changes.get("additional_tags") or []))
        ticket["tags"] = [t for t in ticket["tags"] if t not in (changes.get("remove_tags") or [])]
        for field in changes.get("custom_fields") or []:
            ticket["custom_fields"] = [f for f in ticket["custom_fields"] if f.get("id") != field["id"]]
            ticket["custom_fields"].append({"id": field["id"], "value": field.get("value")})
        comment = changes.get("comment")
        if comment is not None:
            body = comment.get("body") or comment.get("html_body")
            stored = self._append_comment(ticket["id"], {"author_id": actor_id, "body": body,
                                                         "public": comment.get("public", True)},
                                          via_api=True)
            events.append({"type": "Comment", "id": stored["id"], "body": body,
                           "public": stored["public"], "author_id": actor_id})
        return events

    def add_tags(self, ticket_id: int, tags: Any) -> list[str]:
        """PUT /tickets/{id}/tags: adds to the tags already there (POST would replace)."""
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise Invalid("tags must be a list of strings")
        with self._lock:
            ticket = self._ticket(ticket_id)
            ticket["tags"] = _unique_tags(ticket["tags"] + tags)
            return list(ticket["tags"])


def _unique_tags(tags: list[str]) -> list[str]:
    # Zendesk stores tags lower-cased, without duplicates, in the order given.
    return list(dict.fromkeys(str(t).lower() for t in tags))


def _check_update(changes: dict[str, Any]) -> None:
    if "status" in changes and changes["status"] not in ZENDESK_STATUSES:
        raise Invalid(f"Status: {changes['status']!r} is not a valid status")
    comment = changes.get("comment")
    if comment is not None and not (isinstance(comment, dict)
                                    and (comment.get("body") or comment.get("html_body"))):
        raise Invalid("Comment: cannot be blank")
    fields = changes.get("custom_fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, dict) and "id" in f for f in fields):
        raise Invalid("custom_fields must be a list of {id, value}")
    for name in ("tags", "additional_tags", "remove_tags"):
        if name in changes and not isinstance(changes[name], list):
            raise Invalid(f"{name} must be a list")


def _found(table: dict[Any, dict[str, Any]], key: Any) -> dict[str, Any]:
    """The row under `key`, or NotFound (which the fake APIs answer as their 404)."""
    try:
        return table[key]
    except KeyError:
        raise NotFound(key) from None
