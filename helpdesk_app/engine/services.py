"""The upstream clients, built once from the settings and handed to whoever needs them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from helpdesk_app.access.agents import AgentDirectory
from helpdesk_app.access.policy import Policy
from helpdesk_app.access.tickets import RequesterByDirectory, TicketDirectory
from helpdesk_app.engine.jobs import InlineQueue, Jobs, RQQueue, ThreadQueue
from helpdesk_app.engine.leases import Timing
from helpdesk_app.settings import Settings
from helpdesk_app.storage.database import make_engine, make_session_factory
from helpdesk_app.upstreams.budgets import Budgets, DatabaseBudgets, RedisBudgets
from helpdesk_app.upstreams.clients import build_clients
from helpdesk_app.upstreams.gather import ReadPool
from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from workflows import Ports, Rules, SystemClock, notes


@dataclass(frozen=True)
class Services:
    settings: Settings
    portal: PortalClient
    gitlab: GitLabAdapter
    zendesk: ZendeskAdapter
    db: sessionmaker[Session]
    agents: AgentDirectory
    policy: Policy
    jobs: Jobs
    # Upstream budgets every process shares (Zendesk's rate limits).
    budgets: Budgets
    # Tickets' access fields (group, assignee, requester, organization), cached briefly.
    tickets: TicketDirectory
    # Sends a level of a plan's independent reads at once (upstreams/gather.py); one per
    # process, shared by every copy of these services.
    read_pool: ReadPool = dataclasses.field(default_factory=ReadPool)
    # The ports the workflows read and change through; None means the three clients above.
    # (Tests of the HTTP edge give an in-memory world here; post-back still uses the clients.)
    workflow_ports: Ports | None = None

    @property
    def ports(self) -> Ports:
        """The upstreams as they are now (triage judges a ticket that just changed)."""
        if self.workflow_ports is not None:
            return self.workflow_ports
        return Ports(portal=self.portal, gitlab=self.gitlab, tickets=self.zendesk,
                     clock=SystemClock(), gather=self.read_pool)

    @property
    def agent_ports(self) -> Ports:
        """The ports of an agent's plan or run: the ticket whose access the request checked
        (through `tickets`, cached AGENT_CACHE_S) is not read again for its requester."""
        if self.workflow_ports is not None:
            return self.workflow_ports
        return dataclasses.replace(self.ports, tickets=RequesterByDirectory(self.zendesk, self.tickets))

    def marker(self, kind: str, key: object) -> str:
        """The marker of a note or issue this service writes, its key MAC'd (settings)."""
        return notes.signed_marker(self.settings.marker_secret(), kind, key)

    @property
    def rules(self) -> Rules:
        return self.settings.rules()

    @property
    def timing(self) -> Timing:
        s = self.settings
        return Timing(lease_s=s.job_lease_s, redispatch_after_s=2 * s.job_lease_s,
                      sweep_every_s=s.sweep_every_s, delivery_max_attempts=s.delivery_max_attempts)

    def for_worker(self) -> "Services":
        """The same services with clients of their own, for one job thread or process; they
        wait out a 429's Retry-After, which a web request never does."""
        clients = build_clients(self.settings, self.budgets, wait_on_rate_limit=True,
                                gather=self.read_pool)
        # The process's caches of agents and tickets, read through this thread's client: a
        # run's job re-checks the agent the request that started it just read.
        return dataclasses.replace(self, **clients,
                                   agents=self.agents.reading_with(clients["zendesk"]),
                                   tickets=self.tickets.reading_with(clients["zendesk"]))


def build_services(settings: Settings) -> Services:
    """Clients for upstream mode, the database and the jobs."""
    # Migrations are the release step's job (Procfile), never the app factory's.
    audit_key = settings.audit_key.get_secret_value().encode() if settings.audit_key else None
    db = make_session_factory(make_engine(settings.database_url), audit_key=audit_key)
    budgets = RedisBudgets(settings.redis_url) if settings.redis_url else DatabaseBudgets(db)
    read_pool = ReadPool()
    clients = build_clients(settings, budgets, gather=read_pool)
    jobs = Jobs(db)
    jobs.queue = _queue(settings, jobs)
    return Services(
        settings=settings, **clients, db=db, read_pool=read_pool,
        agents=AgentDirectory(clients["zendesk"], max_age_s=settings.agent_cache_s),
        policy=Policy(settings.workflow_policy), jobs=jobs, budgets=budgets,
        tickets=TicketDirectory(clients["zendesk"], max_age_s=settings.agent_cache_s),
    )


def _queue(settings: Settings, jobs: Jobs):
    if settings.executor == "rq":
        return RQQueue(settings.redis_url)
    if settings.executor == "threads":
        return ThreadQueue(jobs, settings.job_threads)
    return InlineQueue(jobs)
