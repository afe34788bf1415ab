"""The subset of Zendesk's Support API v2 that helpdesk_app/upstreams/zendesk.py calls, and
the ticket list an agent page may use.

https://developer.zendesk.com/api-reference/ticketing/introduction/ . Auth is an API token:
basic auth with `{email}/token:{token}`, where the email is an agent's or admin's of the
scenario (the token is the account's, as in Zendesk). Lists paginate both ways Zendesk does
(https://developer.zendesk.com/api-reference/introduction/pagination/): with `page[size]`
(what zenpy sends) by cursor, `meta` and `links`; otherwise by offset, `next_page`,
`previous_page` and `count`. Request ids come in `X-Zendesk-Request-Id`.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import Any
from urllib.parse import urlencode

from sandbox import payloads
from sandbox.faults import Fault
from sandbox.server import BadRequest, Request, Response, Router
from sandbox.state import Conflict, Invalid, NotFound, State

TICKET = r"/api/v2/tickets/(\d+)"
USER = r"/api/v2/users/(\d+)"
MAX_PAGE = 100


def _not_found() -> Response:
    return Response(404, payloads.zendesk_not_found())


class ZendeskApi:
    upstream = "zendesk"

    def __init__(self, state: State, token: str) -> None:
        self.state, self._token = state, token
        self.base = ""  # the server's URL, set once it listens
        self.router = Router()
        r = self.router
        r.add("GET", r"/api/v2/tickets\.json", self.list_tickets)
        r.add("GET", TICKET + r"\.json", self.show_ticket)
        r.add("PUT", TICKET + r"\.json", self.update_ticket)
        r.add("GET", TICKET + r"/comments\.json", self.list_comments)
        r.add("PUT", TICKET + r"/tags\.json", self.add_tags)
        r.add("GET", r"/api/v2/users/me\.json", self.show_me)
        r.add("GET", USER + r"\.json", self.show_user)
        r.add("GET", USER + r"/identities\.json", self.list_identities)
        r.add("GET", USER + r"/groups\.json", self.list_groups)

    # --- the edge ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        actor = self._actor(request)
        if actor is None:
            return Response(401, {"error": "Couldn't authenticate you"})
        found = self.router.find(request)
        if not isinstance(found, tuple):
            return _not_found() if found is None else Response(405, {"error": "MethodNotAllowed"})
        handler, groups = found
        try:
            return handler(request, actor, *(int(g) for g in groups))
        except NotFound:
            return _not_found()
        except (Invalid, BadRequest) as error:
            return Response(422, payloads.zendesk_invalid(str(error)))
        except Conflict:
            return Response(409, payloads.zendesk_update_conflict())

    def _actor(self, request: Request) -> dict[str, Any] | None:
        """The agent whose `{email}/token` came with the account's API token."""
        scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        if scheme != "Basic":
            return None
        try:
            user, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        email, _, kind = user.rpartition("/")
        if kind != "token" or not hmac.compare_digest(secret.encode(), self._token.encode()):
            return None
        return self.state.zendesk_agent_by_email(email)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.retry_after is not None:
            return Response(429, {"error": "APIRateLimitExceeded",
                                  "description": "Number of allowed API requests per minute exceeded"},
                            {"Retry-After": str(fault.retry_after)})
        body = fault.body if fault.body is not None else {
            "error": {"title": "Injected fault", "message": "Injected by the sandbox."}}
        return Response(fault.status, body)

    def finish(self, request: Request, response: Response) -> Response:
        response.headers.setdefault("X-Zendesk-Request-Id", uuid.uuid4().hex)
        return response

    # --- tickets ------------------------------------------------------------------------------

    def list_tickets(self, request: Request, actor: dict) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#list-tickets"""
        tickets = [payloads.ticket(t, self.base) for t in self.state.list_tickets()]
        return self._page(request, "tickets", tickets)

    def show_ticket(self, request: Request, actor: dict, ticket_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket"""
        return Response(200, {"ticket": payloads.ticket(self.state.ticket(ticket_id), self.base)})

    def update_ticket(self, request: Request, actor: dict, ticket_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket"""
        body = request.json()
        changes = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(changes, dict):
            raise BadRequest("the body must be {\"ticket\": {...}}")
        ticket, events = self.state.update_ticket(ticket_id, changes, actor["id"])
        return Response(200, payloads.update_ticket(ticket, events, actor["id"], self.base))

    def list_comments(self, request: Request, actor: dict, ticket_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments"""
        comments = [payloads.comment(c) for c in self.state.ticket_comments(ticket_id)]
        if request.arg("sort_order") == "desc" or request.arg("sort") == "-created_at":
            comments.reverse()
        return self._page(request, "comments", comments)

    def add_tags(self, request: Request, actor: dict, ticket_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/ticket-management/tags/#add-tags"""
        body = request.json()
        tags = body.get("tags") if isinstance(body, dict) else None
        return Response(200, {"tags": self.state.add_tags(ticket_id, tags)})

    # --- users ---------------------------------------------------------------------------------

    def show_me(self, request: Request, actor: dict) -> Response:
        """GET /users/me: the user the API token acts as (the service's own)."""
        return self.show_user(request, actor, actor["id"])

    def show_user(self, request: Request, actor: dict, user_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/users/users/#show-user"""
        return Response(200, {"user": payloads.zendesk_user(self.state.zendesk_user(user_id), self.base)})

    def list_identities(self, request: Request, actor: dict, user_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/users/user_identities/#list-identities"""
        user = self.state.zendesk_user(user_id)
        identities = [payloads.email_identity(user)] if user.get("email") else []
        return self._page(request, "identities", identities)

    def list_groups(self, request: Request, actor: dict, user_id: int) -> Response:
        """https://developer.zendesk.com/api-reference/ticketing/groups/groups/#list-groups"""
        groups = [payloads.group(g, self.base) for g in self.state.user_groups(user_id)]
        return self._page(request, "groups", groups)

    # --- pagination -----------------------------------------------------------------------------

    def _page(self, request: Request, key: str, items: list[Any]) -> Response:
        if request.arg("page[size]") is not None or request.arg("page[after]") is not None:
            return Response(200, self._cursor_page(request, key, items))
        return Response(200, self._offset_page(request, key, items))

    def _cursor_page(self, request: Request, key: str, items: list[Any]) -> dict[str, Any]:
        size = _bounded(request.arg("page[size]"), MAX_PAGE)
        start = _decode_cursor(request.arg("page[after]"))
        page, end = items[start:start + size], start + size
        has_more = end < len(items)
        after = _encode_cursor(end) if page else None
        before = _encode_cursor(start) if page else None
        link = self._link(request, {"page[size]": size})
        return {key: page, "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
                "links": {"next": link + "&" + urlencode({"page[after]": after}) if has_more else None,
                          "prev": link + "&" + urlencode({"page[before]": before}) if start and before else None}}

    def _offset_page(self, request: Request, key: str, items: list[Any]) -> dict[str, Any]:
        per_page = _bounded(request.arg("per_page"), MAX_PAGE)
        number = _bounded(request.arg("page"), 10**6, default=1)
        start = (number - 1) * per_page
        more = start + per_page < len(items)
        return {key: items[start:start + per_page], "count": len(items),
                "next_page": self._link(request, {"page": number + 1, "per_page": per_page}) if more else None,
                "previous_page": self._link(request, {"page": number - 1, "per_page": per_page}) if number > 1 else None}

    def _link(self, request: Request, query: dict[str, Any]) -> str:
        return f"{self.base}{request.path}?{urlencode(query)}"


def _bounded(text: str | None, ceiling: int, default: int | None = None) -> int:
    value = int(text) if text and text.isdigit() else (default or ceiling)
    return min(max(1, value), ceiling)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(offset) if kind == "o" else 0
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("page[after] is not a cursor of this list") from None
