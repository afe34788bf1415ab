"""Start a sandbox for a test, and build the service's real clients pointed at it.

The clients are built the way helpdesk_app/engine/services.py builds them, from settings read out
of `sandbox.env()`; only the Zendesk client also gets the sandbox's domain and scheme,
which the settings do not read yet (sandbox/README.md, "Wiring").
"""
from __future__ import annotations

from dataclasses import dataclass

from helpdesk_app.settings import Settings
from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from sandbox import Sandbox
from tests.keys import zendesk_app_public_pem
from tests.world import FakeClock
from workflows import Ports

# Fast retries: the suite must not sleep for real through every injected failure.
FAST_RETRIES = {"UPSTREAM_BACKOFF_BASE_S": "0.01", "UPSTREAM_BACKOFF_CAP_S": "0.02"}


def start(scenario: dict | str, **kwargs) -> Sandbox:
    # The tests' app key: no RSA key generated per test.
    secrets = {"ZENDESK_APP_PUBLIC_KEY": zendesk_app_public_pem(), **kwargs.pop("secrets", {})}
    return Sandbox.start(scenario, secrets=secrets, **kwargs)


@dataclass
class Clients:
    portal: PortalClient
    gitlab: GitLabAdapter
    zendesk: ZendeskAdapter
    settings: Settings

    @property
    def ports(self) -> Ports:
        return Ports(portal=self.portal, gitlab=self.gitlab, tickets=self.zendesk,
                     clock=FakeClock())


def clients_for(sandbox: Sandbox, **env: str) -> Clients:
    """The three clients with the arguments helpdesk_app/engine/services.py gives them, from the
    settings `sandbox.env()` makes (Zendesk's pacing left out: it needs a database)."""
    settings = Settings.from_env({**sandbox.env(), **FAST_RETRIES, **env})
    retry = RetryPolicy(max_attempts=settings.upstream_max_attempts,
                        base_delay_s=settings.upstream_backoff_base_s,
                        max_delay_s=settings.upstream_backoff_cap_s)
    timeout, secret = settings.upstream_timeout_s, (lambda v: v.get_secret_value())
    portal = PortalClient(str(settings.portal_api_url), secret(settings.portal_api_token),
                          timeout_s=timeout, retry=retry)
    gitlab = GitLabAdapter(str(settings.gitlab_url), secret(settings.gitlab_token),
                           escalation_project=settings.gitlab_escalation_project,
                           escalation_token=secret(settings.gitlab_escalation_token),
                           timeout_s=timeout, retry=retry)
    zendesk = ZendeskAdapter(settings.zendesk_subdomain, settings.zendesk_email,
                             secret(settings.zendesk_api_token), timeout_s=timeout, retry=retry,
                             domain=sandbox.zendesk_connection["domain"],
                             scheme=sandbox.zendesk_connection["scheme"])
    return Clients(portal, gitlab, zendesk, settings)
