"""The three upstream clients, built from the settings (engine/services.py builds them
once; the CLI builds its own)."""
from __future__ import annotations

from helpdesk_app.settings import Settings
from helpdesk_app.upstreams.budgets import Budgets
from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from helpdesk_app.upstreams.zendesk_pacing import ZendeskPacing
from workflows.facts import Gather, one_by_one


def _secret(value) -> str:
    return value.get_secret_value()


def build_clients(settings: Settings, budgets: Budgets, *, wait_on_rate_limit: bool = False,
                  gather: Gather = one_by_one) -> dict:
    """The three upstream clients; constructing them makes no network call."""
    retry = RetryPolicy(
        wait_on_rate_limit=wait_on_rate_limit,
        max_attempts=settings.upstream_max_attempts,
        base_delay_s=settings.upstream_backoff_base_s,
        max_delay_s=settings.upstream_backoff_cap_s,
    )
    timeout = settings.upstream_timeout_s
    escalation_token = settings.gitlab_escalation_token
    return dict(
        portal=PortalClient(str(settings.portal_api_url), _secret(settings.portal_api_token),
                            timeout_s=timeout, retry=retry),
        gitlab=GitLabAdapter(
            str(settings.gitlab_url), _secret(settings.gitlab_token),
            escalation_project=settings.gitlab_escalation_project,
            escalation_token=_secret(escalation_token) if escalation_token else None,
            timeout_s=timeout, retry=retry,
        ),
        zendesk=ZendeskAdapter(settings.zendesk_subdomain, settings.zendesk_email,
                               _secret(settings.zendesk_api_token), timeout_s=timeout, retry=retry,
                               domain=settings.zendesk_domain, scheme=settings.zendesk_scheme,
                               pacing=_zendesk_pacing(settings, budgets),
                               service_user_id=settings.zendesk_service_user_id,
                               gather=gather),
    )


def _zendesk_pacing(settings: Settings, budgets: Budgets) -> ZendeskPacing:
    return ZendeskPacing(
        budgets, requests_per_min=settings.zendesk_requests_per_min,
        ticket_updates_per_min=settings.zendesk_ticket_updates_per_min,
        updates_per_ticket=settings.zendesk_updates_per_ticket,
        updates_per_ticket_window_s=settings.zendesk_updates_per_ticket_window_s,
        reserved_share=settings.zendesk_reserved_share)
