"""`Sandbox`: the three servers over one state, their credentials, and the service's settings.

    with Sandbox.start("sandbox/scenarios/demo.json") as sandbox:
        os_environ_of_a_child_process.update(sandbox.env())
        sandbox.add_fault({"upstream": "portal", "method": "PUT", "status": 500})
        sandbox.create_ticket(subject="...", description="...", requester_id=9100)

zenpy builds `{scheme}://{subdomain}.{domain}/api/v2/...`; the sandbox's Zendesk listens on
127.0.0.1, so it is reached with subdomain "127" and domain "0.0.1:<port>" over http —
ZendeskAdapter's own `domain` and `scheme` arguments, no process-wide environment variable.
"""
from __future__ import annotations

import secrets as secrets_module
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox import faults, webhooks
from sandbox import scenario as scenario_module
from sandbox.gitlab_api import GitLabApi
from sandbox.portal_api import PortalApi
from sandbox.server import Server
from sandbox.state import State
from sandbox.zendesk_api import ZendeskApi

# The sandbox's secrets, by the name of the service setting that holds each.
SECRET_NAMES = ("PORTAL_API_TOKEN", "GITLAB_TOKEN", "GITLAB_ESCALATION_TOKEN", "ZENDESK_API_TOKEN",
                "ZENDESK_WEBHOOK_SECRET", "GITLAB_WEBHOOK_TOKEN", "SECRET_KEY", "AUDIT_KEY")
SERVICE_EMAIL = "helpdesk-bot@sandbox.test"
ESCALATION_PROJECT: dict[str, Any] = {"id": 4, "path_with_namespace": "support/escalations"}
# Authors of what the tokens write, and the engineer who closes escalations by hand.
GITLAB_BOT = {"id": 990001, "username": "lnr-helpdesk", "name": "License and Renewals helpdesk"}
ENGINEER = {"id": 41, "username": "casey.console", "name": "Casey Console"}
# The scenario's ticket field the service sets after a run (seed 001's transaction type).
TRANSACTION_TYPE_TITLE = "transaction type"


class Sandbox:
    """Use `Sandbox.start(...)`; `stop()` (or the `with` block) shuts the servers down."""

    def __init__(self, state: State, servers: dict[str, Server], credentials: dict[str, str],
                 *, service_email: str, service_user_id: int, app_private_key_pem: str | None) -> None:
        self.state = state
        self.servers = servers
        self.credentials = credentials
        self.zendesk_email = service_email
        self.zendesk_service_user_id = service_user_id
        self.app_private_key_pem = app_private_key_pem  # signs sidebar JWTs, when generated
        self.zendesk_webhooks: webhooks.WebhookSender | None = None
        self.gitlab_webhooks: webhooks.WebhookSender | None = None

    # --- life cycle ------------------------------------------------------------------

    @classmethod
    def start(cls, scenario: str | Path | dict[str, Any], *, secrets: dict[str, str] | None = None,
              zendesk_webhook: str | None = None, gitlab_webhook: str | None = None,
              escalation_project: str = ESCALATION_PROJECT["path_with_namespace"],
              service_email: str = SERVICE_EMAIL, ports: dict[str, int] | None = None) -> "Sandbox":
        """Load the scenario (ScenarioError if malformed), listen on 127.0.0.1 (ephemeral
        ports unless `ports` names them), and post webhooks to the given URLs, if any."""
        loaded = scenario_module.load(scenario)
        credentials, private_pem = _credentials(secrets or {})
        agent = _service_agent(loaded, service_email)
        project = {**ESCALATION_PROJECT, "path_with_namespace": escalation_project}
        state = State(loaded, service_agent=agent, project=project)
        servers = _servers(state, credentials, project, ports or {})
        sandbox = cls(state, servers, credentials, service_email=service_email,
                      service_user_id=agent["id"], app_private_key_pem=private_pem)
        sandbox._webhooks(zendesk_webhook, gitlab_webhook)
        return sandbox

    def stop(self) -> None:
        # In parallel: each server's shutdown waits for its serve loop's next poll.
        stopping = [threading.Thread(target=s.stop) for s in self.servers.values()]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _webhooks(self, zendesk_url: str | None, gitlab_url: str | None) -> None:
        c = self.credentials
        if zendesk_url:
            self.zendesk_webhooks = webhooks.zendesk_sender(zendesk_url, c["ZENDESK_WEBHOOK_SECRET"])
        if gitlab_url:
            self.gitlab_webhooks = webhooks.gitlab_sender(gitlab_url, c["GITLAB_WEBHOOK_TOKEN"])
        self.state.subscribe(self._announce)

    def _announce(self, event: str, record: dict[str, Any]) -> None:
        if event == "ticket.created" and self.zendesk_webhooks:
            webhooks.send_ticket_created(self.zendesk_webhooks, record)
        elif event == "issue.state_changed" and self.gitlab_webhooks:
            webhooks.send_issue_hook(self.gitlab_webhooks, record, self.state.project, self.gitlab_url)

    def wait_for_webhooks(self, timeout_s: float = 10.0) -> bool:
        senders = [s for s in (self.zendesk_webhooks, self.gitlab_webhooks) if s]
        return all(s.wait(timeout_s) for s in senders)

    # --- where the service connects ----------------------------------------------------

    @property
    def portal_url(self) -> str:
        return self.servers["portal"].url

    @property
    def gitlab_url(self) -> str:
        return self.servers["gitlab"].url

    @property
    def zendesk_url(self) -> str:
        return self.servers["zendesk"].url

    @property
    def zendesk_connection(self) -> dict[str, Any]:
        """ZendeskAdapter's arguments: `ZendeskAdapter(**sandbox.zendesk_connection)`."""
        return {"subdomain": "127", "domain": f"0.0.1:{self.servers['zendesk'].port}",
                "scheme": "http", "email": self.zendesk_email,
                "api_token": self.credentials["ZENDESK_API_TOKEN"]}

    @property
    def escalation_project(self) -> str:
        return self.state.project["path_with_namespace"]

    def env(self) -> dict[str, str]:
        """The service's settings (helpdesk_app/settings.py names) that point it here."""
        c, z = self.credentials, self.zendesk_connection
        env = {"PORTAL_API_URL": self.portal_url, "PORTAL_API_TOKEN": c["PORTAL_API_TOKEN"],
               "GITLAB_URL": self.gitlab_url, "GITLAB_TOKEN": c["GITLAB_TOKEN"],
               "GITLAB_ESCALATION_PROJECT": self.escalation_project,
               "GITLAB_ESCALATION_TOKEN": c["GITLAB_ESCALATION_TOKEN"],
               "GITLAB_WEBHOOK_TOKEN": c["GITLAB_WEBHOOK_TOKEN"],
               "ZENDESK_SUBDOMAIN": z["subdomain"], "ZENDESK_DOMAIN": z["domain"],
               "ZENDESK_SCHEME": z["scheme"], "ZENDESK_EMAIL": z["email"],
               "ZENDESK_API_TOKEN": z["api_token"],
               "ZENDESK_WEBHOOK_SECRET": c["ZENDESK_WEBHOOK_SECRET"],
               "ZENDESK_SERVICE_USER_ID": str(self.zendesk_service_user_id),
               "SECRET_KEY": c["SECRET_KEY"], "AUDIT_KEY": c["AUDIT_KEY"]}
        if "ZENDESK_APP_PUBLIC_KEY" in c:
            env["ZENDESK_APP_PUBLIC_KEY"] = c["ZENDESK_APP_PUBLIC_KEY"]
        field = self.transaction_type_field()
        if field is not None:  # configured as an account configures it: the field's id
            env["ZENDESK_TRANSACTION_TYPE_FIELD_ID"] = str(field["id"])
        return env

    def transaction_type_field(self) -> dict[str, Any] | None:
        """The scenario's ticket field titled "Transaction type", if it has one."""
        fields = self.state.snapshot()["zendesk"]["ticket_fields"]
        return next((f for f in fields if f["title"].strip().casefold() == TRANSACTION_TYPE_TITLE), None)

    def describe(self) -> dict[str, Any]:
        """What `python -m sandbox` prints: URLs and credentials."""
        return {"mode": "sandbox", "portal_url": self.portal_url, "gitlab_url": self.gitlab_url,
                "zendesk_url": self.zendesk_url, "env": self.env()}

    # --- acting on the world (tests, the demo) -----------------------------------------------

    def add_fault(self, rule: dict[str, Any]) -> faults.Fault:
        """Add one fault rule (faults.py); raises ValueError naming a bad key."""
        fault = faults.parse(rule)
        self.state.add_faults([fault])
        return fault

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def create_ticket(self, **fields: Any) -> dict[str, Any]:
        """A new ticket in the scenario's ticket format; posts `ticket.created` if configured."""
        return self.state.create_ticket(fields)

    def close_issue(self, iid: int, actor: dict[str, Any] = ENGINEER) -> dict[str, Any]:
        """An engineer closes an escalation issue; posts the Issue Hook if configured."""
        return self.state.update_issue(iid, {"state_event": "close"}, actor)

    def reopen_issue(self, iid: int, actor: dict[str, Any] = ENGINEER) -> dict[str, Any]:
        return self.state.update_issue(iid, {"state_event": "reopen"}, actor)

    def notes(self, ticket_id: int) -> list[str]:
        """Bodies of the comments posted through the API (the service's notes), in order."""
        return [c["body"] for c in self.state.ticket_comments(ticket_id) if c["via_api"]]

    def issues(self) -> list[dict[str, Any]]:
        return self.state.list_issues()

    def counters(self) -> dict[str, Any]:
        return self.state.counters()

    def reset(self) -> None:
        self.state.reset()


def _credentials(given: dict[str, str]) -> tuple[dict[str, str], str | None]:
    unknown = sorted(set(given) - set(SECRET_NAMES) - {"ZENDESK_APP_PUBLIC_KEY"})
    if unknown:
        raise ValueError(f"unknown secret {unknown[0]!r}; one of {', '.join(SECRET_NAMES)}")
    credentials = {name: given.get(name) or secrets_module.token_urlsafe(32) for name in SECRET_NAMES}
    if given.get("ZENDESK_APP_PUBLIC_KEY"):
        return {**credentials, "ZENDESK_APP_PUBLIC_KEY": given["ZENDESK_APP_PUBLIC_KEY"]}, None
    private_pem, public_pem = _app_key_pair()
    return {**credentials, "ZENDESK_APP_PUBLIC_KEY": public_pem}, private_pem


def _app_key_pair() -> tuple[str, str]:
    """A throwaway RS256 key pair for the sidebar's signed URLs (Zendesk holds the private
    key of a real app; here the sandbox does, so a demo can sign as Zendesk would)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def _service_agent(loaded: dict[str, Any], email: str) -> dict[str, Any]:
    """The Zendesk agent the service's API token acts as: the scenario's, or one added."""
    users = loaded["zendesk"]["users"]
    found = next((u for u in users if (u.get("email") or "").casefold() == email.casefold()), None)
    if found is not None:
        if found["role"] == "end-user":
            raise scenario_module.ScenarioError(f"zendesk.users: {email} is the service's "
                                                "account and must be an agent or admin")
        return found
    next_id = max([u["id"] for u in users], default=0) + 1
    return scenario_module.record("zendesk_user", {"id": max(next_id, 900000), "email": email,
                                                   "name": "License and Renewals helpdesk",
                                                   "role": "agent"}, "service agent")


def _servers(state: State, c: dict[str, str], project: dict[str, Any],
             ports: dict[str, int]) -> dict[str, Server]:
    project_bot = {"id": 990002, "username": f"project_{project['id']}_bot",
                   "name": "Escalations project bot"}
    apis: dict[str, Any] = {"portal": PortalApi(state, c["PORTAL_API_TOKEN"]),
            "gitlab": GitLabApi(state, token=c["GITLAB_TOKEN"],
                                escalation_token=c["GITLAB_ESCALATION_TOKEN"], bot=GITLAB_BOT,
                                project_bot=project_bot),
            "zendesk": ZendeskApi(state, c["ZENDESK_API_TOKEN"])}
    unknown = sorted(set(ports) - set(apis))
    if unknown:
        raise ValueError(f"unknown server {unknown[0]!r}; one of portal, gitlab, zendesk")
    servers: dict[str, Server] = {}
    try:
        for name, api in apis.items():
            servers[name] = Server(api, state, port=ports.get(name, 0))
            api.base = servers[name].url
            servers[name].start()
    except OSError:
        for server in servers.values():
            server.stop()
        raise
    return servers
