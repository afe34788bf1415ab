"""The upstream clients, built once from the settings and handed to whoever needs them."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from workflows import Ports, Rules

from .agents import AgentDirectory
from .db import make_engine, make_session_factory
from .jobs import InlineJobs
from .policy import Policy
from .settings import Settings
from .upstreams.gitlab import GitLabAdapter
from .upstreams.portal import PortalClient
from .upstreams.retry import RetryPolicy
from .upstreams.zendesk import ZendeskAdapter


@dataclass(frozen=True)
class Services:
    settings: Settings
    portal: PortalClient
    gitlab: GitLabAdapter
    zendesk: ZendeskAdapter
    db: sessionmaker[Session]
    agents: AgentDirectory
    policy: Policy
    jobs: InlineJobs
    # The ports the workflows read and change through; None means the three clients above.
    # (Tests of the HTTP edge give an in-memory world here; post-back still uses the clients.)
    workflow_ports: Ports | None = None

    @property
    def ports(self) -> Ports:
        if self.workflow_ports is not None:
            return self.workflow_ports
        return Ports(portal=self.portal, gitlab=self.gitlab, tickets=self.zendesk)

    @property
    def rules(self) -> Rules:
        return self.settings.rules()


def _secret(value) -> str:
    return value.get_secret_value()


def build_services(settings: Settings) -> Services:
    """Clients for upstream mode and the database; constructing them makes no network call."""
    retry = RetryPolicy(
        max_attempts=settings.upstream_max_attempts,
        base_delay_s=settings.upstream_backoff_base_s,
        max_delay_s=settings.upstream_backoff_cap_s,
    )
    timeout = settings.upstream_timeout_s
    escalation_token = settings.gitlab_escalation_token
    zendesk = ZendeskAdapter(settings.zendesk_subdomain, settings.zendesk_email,
                             _secret(settings.zendesk_api_token), timeout_s=timeout, retry=retry)
    return Services(
        settings=settings,
        portal=PortalClient(str(settings.portal_api_url), _secret(settings.portal_api_token),
                            timeout_s=timeout, retry=retry),
        gitlab=GitLabAdapter(
            str(settings.gitlab_url), _secret(settings.gitlab_token),
            escalation_project=settings.gitlab_escalation_project,
            escalation_token=_secret(escalation_token) if escalation_token else None,
            timeout_s=timeout, retry=retry,
        ),
        zendesk=zendesk,
        # Migrations are the release step's job (Procfile), never the app factory's.
        db=make_session_factory(make_engine(settings.database_url)),
        agents=AgentDirectory(zendesk, max_age_s=settings.agent_cache_s),
        policy=Policy(settings.workflow_policy),
        jobs=InlineJobs(),
    )
