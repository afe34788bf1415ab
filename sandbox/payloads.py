"""Payloads shaped exactly as each vendor documents them, built from the state's records.

The templates under `templates/` are the vendors' documented examples (the same files as
tests/fixtures/, which a test keeps identical); each builder lays a record's values over
its template and replaces every field that names the example's people, so nothing of the
example leaks into an answer. `base` is the server's own URL (what `url`/`web_url` fields
point at).

Portal: docs/portal-admin-api.yaml. GitLab: https://docs.gitlab.com/api/namespaces/,
https://docs.gitlab.com/api/users/, https://docs.gitlab.com/api/members/,
https://docs.gitlab.com/api/issues/, https://docs.gitlab.com/api/notes/,
https://docs.gitlab.com/user/project/integrations/webhook_events/#work-item-events.
Zendesk: https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/,
.../tickets/ticket_comments/, .../users/users/, .../users/user_identities/,
.../groups/groups/, https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/.
"""
from __future__ import annotations

import copy
import json
import secrets
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The contract's fields (docs/portal-admin-api.yaml, components.schemas); scenario
# extensions such as `locked` stay inside the sandbox.
SUBSCRIPTION_FIELDS = ("name", "customer_id", "product", "kind", "plan_code", "seats", "units",
                       "status", "start_date", "end_date", "channel", "program", "namespace_id")
CUSTOMER_FIELDS = ("id", "email", "name", "company", "gitlab_user_id", "login_activated",
                   "created_at")
CREATED_AT = "2024-01-01T00:00:00Z"
ZENDESK_ACCOUNT_ID = 88888888


@cache
def _template(vendor: str, name: str) -> str:
    return (TEMPLATES / vendor / f"{name}.json").read_text(encoding="utf-8")


def template(vendor: str, name: str) -> Any:
    """A fresh copy of a vendor's documented example."""
    return json.loads(_template(vendor, name))


# --- portal ------------------------------------------------------------------------------


def subscription(record: Any) -> dict[str, Any]:
    return {k: _get(record, k) for k in SUBSCRIPTION_FIELDS}


def customer(record: Any) -> dict[str, Any]:
    return {k: _get(record, k, CREATED_AT if k == "created_at" else None) for k in CUSTOMER_FIELDS}


def portal_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _get(record: Any, name: str, default: Any = None) -> Any:
    # Dicts from the sandbox, dataclasses from the tests' in-memory world.
    if isinstance(record, dict):
        return record.get(name, default)
    return getattr(record, name, default)


# --- GitLab ------------------------------------------------------------------------------


def gitlab_error(status: int, what: str = "") -> dict[str, Any]:
    """GitLab's REST error body, e.g. {"message": "404 Group Not Found"}."""
    reasons = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable"}
    text = f"{what} Not Found" if status == 404 and what else reasons.get(status, "Error")
    return {"message": f"{status} {text}"}


def namespace(record: Any, base: str) -> dict[str, Any]:
    """`GET /namespaces/:id`; personal namespaces carry no seat statistics."""
    kind, path = _get(record, "kind"), _get(record, "full_path")
    if kind == "user":
        payload, seats = template("gitlab", "get_namespace__user"), {}
    else:
        payload = template("gitlab", "get_namespace__group")
        in_use = _get(record, "seats_in_use")
        used = _get(record, "max_seats_used")
        billable = _get(record, "billable_members_count")
        seats = {"seats_in_use": billable if in_use is None else in_use,
                 "max_seats_used": billable if used is None else used,
                 "members_count_with_descendants": billable}
    name = path.rsplit("/", 1)[-1]
    web = f"{base}/{'groups/' if kind == 'group' else ''}{path}"
    return {**payload, **seats, "id": _get(record, "id"), "name": name, "path": name,
            "kind": kind, "full_path": path, "parent_id": _get(record, "parent_id"),
            "web_url": web, "plan": _get(record, "plan"),
            "billable_members_count": _get(record, "billable_members_count")}


def user(record: Any, base: str, personal_namespace_id: int | None = None) -> dict[str, Any]:
    """The admin view of a user (the service's token is an admin's): `email` and
    `is_admin` are there. Every field naming the template's person is replaced."""
    username, email = _get(record, "username"), _get(record, "email")
    payload = {**template("gitlab", "get_user__admin_view"), "id": _get(record, "id"),
               "username": username, "name": _get(record, "name", None) or username,
               "email": email, "public_email": None, "commit_email": email,
               "is_admin": _get(record, "is_admin"), "identities": [], "note": "",
               "web_url": f"{base}/{username}", "avatar_url": None,
               "namespace_id": personal_namespace_id}
    if payload["is_admin"] is None:  # `"is_admin": null`: GitLab's answer to a non-admin token
        del payload["is_admin"]
    return payload


def member(record: Any, level: int, base: str) -> dict[str, Any]:
    username = _get(record, "username")
    return {**template("gitlab", "get_group_member_all"), "id": _get(record, "id"),
            "username": username, "name": _get(record, "name", None) or username,
            "email": _get(record, "email"), "web_url": f"{base}/{username}",
            "avatar_url": None, "access_level": level}


def gitlab_author(record: dict[str, Any], base: str) -> dict[str, Any]:
    return {"id": record["id"], "username": record["username"], "name": record["name"],
            "state": "active", "avatar_url": None, "web_url": f"{base}/{record['username']}"}


def issue(record: dict[str, Any], project: dict[str, Any], base: str) -> dict[str, Any]:
    """An issue as `POST /projects/:id/issues` and the issue lists return it."""
    iid, path = record["iid"], project["path_with_namespace"]
    api = f"{base}/api/v4/projects/{project['id']}/issues/{iid}"
    closed_by = record.get("closed_by")
    return {**template("gitlab", "post_project_issue"), "project_id": project["id"],
            "id": record["id"], "iid": iid, "title": record["title"],
            "description": record["description"], "state": record["state"],
            "labels": list(record["labels"]), "confidential": record["confidential"],
            "author": gitlab_author(record["author"], base), "created_at": record["created_at"],
            "updated_at": record["updated_at"], "closed_at": record["closed_at"],
            "closed_by": gitlab_author(closed_by, base) if closed_by else None,
            "user_notes_count": record.get("notes_count", 0),
            "web_url": issue_web_url(base, path, iid),
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{path}#{iid}"},
            "_links": {"self": api, "notes": f"{api}/notes", "award_emoji": f"{api}/award_emoji",
                       "project": f"{base}/api/v4/projects/{project['id']}",
                       "closed_as_duplicate_of": None}}


def issue_web_url(base: str, project_path: str, iid: int) -> str:
    return f"{base}/{project_path}/-/issues/{iid}"


def note(record: dict[str, Any], project: dict[str, Any], base: str) -> dict[str, Any]:
    return {**template("gitlab", "post_issue_note"), "id": record["id"], "body": record["body"],
            "author": {**gitlab_author(record["author"], base), "email": None,
                       "created_at": record["created_at"]},
            "created_at": record["created_at"], "updated_at": record["updated_at"],
            "noteable_id": record["noteable_id"], "noteable_iid": record["noteable_iid"],
            "project_id": project["id"]}


def issue_hook(record: dict[str, Any], project: dict[str, Any], base: str) -> dict[str, Any]:
    """The `Issue Hook` (or `Confidential Issue Hook`) body GitLab posts on close or reopen."""
    hook = template("gitlab", "issue_hook__closed")
    path, closing = project["path_with_namespace"], record["state"] == "closed"
    actor = gitlab_author(record.get("last_actor") or record["author"], base)
    labels = [dict(hook["labels"][0], id=200 + n, title=title, project_id=project["id"])
              for n, title in enumerate(record["labels"])]
    hook["user"] = {k: actor[k] for k in ("id", "name", "username", "avatar_url")} | {"email": "[REDACTED]"}
    hook["project"] = _hook_project(hook["project"], project, base)
    hook["repository"].update(name=path.rsplit("/", 1)[-1], homepage=f"{base}/{path}",
                              url=f"{base}/{path}.git")
    hook["object_attributes"].update(
        id=record["id"], iid=record["iid"], title=record["title"],
        description=record["description"], author_id=record["author"]["id"],
        project_id=project["id"], created_at=record["created_at"],
        updated_at=record["updated_at"], updated_by_id=actor["id"],
        state_id=2 if closing else 1, confidential=record["confidential"],
        url=issue_web_url(base, path, record["iid"]), state=record["state"],
        action="close" if closing else "reopen", closed_at=record["closed_at"],
        labels=labels, assignee_ids=[], assignee_id=None)
    hook.update(labels=labels, assignees=[], assignee=None, changes={
        "closed_at": {"previous": None if closing else "", "current": record["closed_at"]},
        "state_id": {"previous": 1 if closing else 2, "current": 2 if closing else 1},
        "updated_at": {"previous": record["created_at"], "current": record["updated_at"]}})
    return hook


def _hook_project(template_project: dict[str, Any], project: dict[str, Any], base: str) -> dict:
    path = project["path_with_namespace"]
    web = f"{base}/{path}"
    return {**template_project, "id": project["id"], "name": path.rsplit("/", 1)[-1],
            "web_url": web, "homepage": web, "path_with_namespace": path,
            "namespace": path.rsplit("/", 1)[0], "git_http_url": f"{web}.git",
            "http_url": f"{web}.git", "git_ssh_url": f"{web}.git", "url": f"{web}.git",
            "ssh_url": f"{web}.git"}


# --- Zendesk -----------------------------------------------------------------------------


def zendesk_not_found() -> dict[str, Any]:
    return template("zendesk", "error__record_not_found")


def zendesk_invalid(description: str) -> dict[str, Any]:
    """Zendesk's 422 envelope (https://developer.zendesk.com/api-reference/introduction/requests/)."""
    return {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"base": [{"description": description}]}}


def zendesk_update_conflict() -> dict[str, Any]:
    """Update Ticket's 409 for a `safe_update` whose `updated_stamp` is not the ticket's
    `updated_at` (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#protecting-against-ticket-update-collisions);
    the service relies only on the status."""
    return {"error": "UpdateConflict",
            "description": "Safe Update prevented the update due to outdated ticket data. "
                           "Please fetch the latest ticket data and try again."}


def ticket(record: dict[str, Any], base: str) -> dict[str, Any]:
    """Show Ticket's `ticket`; scenario defaults stand in for fields a record lacks."""
    tid, subject = record["id"], record.get("subject", "")
    created = record.get("created_at") or CREATED_AT
    return {**template("zendesk", "show_ticket")["ticket"], "id": tid,
            "url": f"{base}/api/v2/tickets/{tid}.json", "subject": subject, "raw_subject": subject,
            "description": record.get("description", ""), "status": record.get("status", "open"),
            "tags": list(record.get("tags", [])),
            "custom_fields": copy.deepcopy(record.get("custom_fields", [])),
            "requester_id": record["requester_id"], "submitter_id": record["requester_id"],
            "assignee_id": record.get("assignee_id"), "collaborator_ids": [], "follower_ids": [],
            "group_id": record.get("group_id"), "organization_id": record.get("organization_id"),
            "external_id": None, "problem_id": None,
            "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": None,
            "priority": record.get("priority"), "type": record.get("type"),
            "created_at": created, "updated_at": record.get("updated_at") or created}


def comment(record: dict[str, Any]) -> dict[str, Any]:
    """A ticket comment; the template's attachments and client metadata are not ours."""
    body = record["body"]
    return {**template("zendesk", "list_ticket_comments")["comments"][0], "id": record["id"],
            "author_id": record["author_id"], "body": body, "plain_body": body,
            "html_body": f"<div class=\"zd-comment\"><p>{_escape(body)}</p></div>",
            "public": record["public"], "attachments": [], "audit_id": record["id"],
            "created_at": record["created_at"],
            "metadata": {"system": {}, "via": {"channel": "api", "source": {"from": {}, "rel": None, "to": {}}}}}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def zendesk_user(record: dict[str, Any], base: str) -> dict[str, Any]:
    role = record.get("role", "end-user")
    name = "show_user__end_user" if role == "end-user" else "show_user__agent"
    return {**template("zendesk", name)["user"], "id": record["id"], "email": record.get("email"),
            "name": record.get("name") or "", "role": role,
            "role_type": None if role == "end-user" else 0, "alias": "", "notes": "",
            "signature": None, "phone": None, "photo": None, "external_id": None,
            "organization_id": record.get("organization_id"), "tags": [], "user_fields": {},
            "details": "", "url": f"{base}/api/v2/users/{record['id']}.json",
            "ticket_restriction": (record.get("ticket_restriction") if role != "end-user"
                                   else "requested"),
            "verified": record.get("verified", True)}


def email_identity(record: dict[str, Any]) -> dict[str, Any]:
    """The user's email identity; verification lives here (that is what the adapter reads)."""
    identity = template("zendesk", "list_user_identities")["identities"][0]
    return {**identity, "id": 70000 + record["id"], "user_id": record["id"],
            "value": record["email"], "verified": record.get("verified", True)}


def group(record: dict[str, Any], base: str) -> dict[str, Any]:
    return {**template("zendesk", "list_user_groups")["groups"][0], "id": record["id"],
            "name": record["name"], "description": "", "default": False,
            "url": f"{base}/api/v2/groups/{record['id']}.json"}


def update_ticket(record: dict[str, Any], events: list[dict[str, Any]], actor_id: int,
                  base: str) -> dict[str, Any]:
    """Update Ticket's answer: the ticket and the audit of this change."""
    audit = {"id": 20000 + len(events) + record["id"], "ticket_id": record["id"],
             "author_id": actor_id, "created_at": record["updated_at"],
             "events": [dict(e, id=i + 1) for i, e in enumerate(events)],
             "metadata": {"system": {}, "custom": {}}, "via": {"channel": "api"}}
    return {"audit": audit, "ticket": ticket(record, base)}


def ticket_created_event(record: dict[str, Any]) -> dict[str, Any]:
    """The `ticket.created` event webhook body (zendesk_event_version 2022-11-06)."""
    event = template("zendesk", "webhook_ticket_created")
    tid, requester = str(record["id"]), str(record["requester_id"])
    event.update(id=_event_id(), time=record["created_at"], subject=f"zen:ticket:{tid}",
                 account_id=ZENDESK_ACCOUNT_ID)
    event["detail"].update(
        actor_id=requester, requester_id=requester, submitter_id=requester, id=tid,
        subject=record["subject"], description=record["description"],
        status=record["status"].upper(), tags=list(record["tags"]),
        created_at=record["created_at"], updated_at=record["updated_at"],
        assignee_id=None, group_id=None, organization_id=None, external_id=None)
    event["event"]["meta"]["sequence"]["id"] = secrets.token_hex(16)
    return event


def _event_id() -> str:
    # Zendesk's event ids are ULIDs: 26 Crockford base-32 characters.
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(26))
