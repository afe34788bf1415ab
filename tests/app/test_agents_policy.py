"""AgentDirectory (Zendesk reads, cached briefly) and Policy (which agent may do what).

The directory runs on the real ZendeskAdapter with Zendesk faked at the HTTP edge; the
bodies are Zendesk's documented shapes (tests/sidebar_auth.py).
"""
from __future__ import annotations

import threading

import pytest
import responses

from helpdesk_app.access.agents import Agent, AgentDirectory
from helpdesk_app.access.policy import Policy
from helpdesk_app.settings import DEFAULT_POLICY
from helpdesk_app.upstreams.retry import RetryPolicy
from helpdesk_app.upstreams.zendesk import ZendeskAdapter
from tests.sidebar_auth import (
    FIRST_LEVEL,
    LICENSE_AND_RENEWALS,
    SUBDOMAIN,
    mock_agent,
    mock_unknown_user,
    zendesk_user_payloads,
)
from workflows.errors import UpstreamError
from workflows.labels import workflow_name

USER = 9000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory(clock) -> AgentDirectory:
    zendesk = ZendeskAdapter(SUBDOMAIN, "bot@acme.test", "zendesk-token",
                             retry=RetryPolicy(max_attempts=1))
    return AgentDirectory(zendesk, max_age_s=60.0, clock=clock)


@pytest.fixture
def zendesk():
    with responses.RequestsMock() as mock:
        yield mock


def paths(mock) -> list[str]:
    return [call.request.path_url.split("?")[0] for call in mock.calls]


# -- AgentDirectory --------------------------------------------------------------------------


def test_an_agent_is_read_with_role_and_groups(directory, zendesk):
    mock_agent(zendesk, USER, groups=(LICENSE_AND_RENEWALS, FIRST_LEVEL), name="Ada Agent",
               email="ada@vendor.test")

    agent = directory.get(USER)

    assert agent == Agent(id=USER, name="Ada Agent", email="ada@vendor.test", role="agent",
                          group_ids=frozenset({361, 3432}),
                          group_names=frozenset({"License and Renewals", "First Level Support"}),
                          ticket_restriction=None, organization_id=57542)
    assert paths(zendesk) == [f"/api/v2/users/{USER}.json", f"/api/v2/users/{USER}/groups.json"]


def test_a_second_get_within_max_age_makes_no_call(directory, zendesk, clock):
    mock_agent(zendesk, USER)
    first = directory.get(USER)
    clock.now += 59.9

    assert directory.get(USER) is first
    assert len(zendesk.calls) == 2


def test_after_max_age_the_agent_is_read_again(directory, zendesk, clock):
    mock_agent(zendesk, USER, groups=(LICENSE_AND_RENEWALS,))
    assert directory.get(USER).group_ids == {361}
    # Removed from the group in Zendesk meanwhile: the next read must see it.
    zendesk.replace(responses.GET, f"https://acme.zendesk.com/api/v2/users/{USER}/groups.json",
                    json=zendesk_user_payloads(USER, groups=())[1])
    clock.now += 60.0

    assert directory.get(USER).group_ids == frozenset()
    assert len(zendesk.calls) == 4


def test_entries_are_per_user(directory, zendesk):
    mock_agent(zendesk, USER)
    mock_agent(zendesk, USER + 1, role="admin", groups=())

    assert directory.get(USER).role == "agent"
    assert directory.get(USER + 1).role == "admin"
    assert directory.get(USER).role == "agent"
    assert len(zendesk.calls) == 4


def test_an_unknown_user_is_none_and_not_read_twice_within_max_age(directory, zendesk, clock):
    mock_unknown_user(zendesk, 404404)

    assert directory.get(404404) is None
    clock.now += 30
    assert directory.get(404404) is None
    # Read once: the user and their groups at once (the groups' 404 is not used).
    assert len(zendesk.calls) == 2


def test_an_upstream_failure_propagates_and_is_not_cached(directory, zendesk):
    zendesk.get(f"https://acme.zendesk.com/api/v2/users/{USER}.json", status=503)
    with pytest.raises(UpstreamError):
        directory.get(USER)

    zendesk.replace(responses.GET, f"https://acme.zendesk.com/api/v2/users/{USER}.json",
                    json={"user": {"id": USER, "name": "A", "email": None, "role": "agent"}})
    zendesk.get(f"https://acme.zendesk.com/api/v2/users/{USER}/groups.json",
                json=zendesk_user_payloads(USER, groups=())[1])
    assert directory.get(USER).role == "agent"


def test_concurrent_gets_all_see_the_agent():
    reads: list[int] = []

    class CountingZendesk:
        def user(self, user_id):
            reads.append(user_id)
            return {"id": user_id, "name": "A", "email": None, "role": "agent",
                    "groups": [{"id": 361, "name": "License and Renewals"}]}

    directory = AgentDirectory(CountingZendesk(), max_age_s=60.0)
    seen: list[Agent | None] = []
    threads = [threading.Thread(target=lambda: seen.append(directory.get(USER))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 16 and all(agent and agent.group_ids == {361} for agent in seen)
    settled = len(reads)
    assert directory.get(USER).id == USER
    assert len(reads) == settled  # cached once the readers are done


def test_max_age_zero_always_reads():
    calls: list[int] = []

    class Zendesk:
        def user(self, user_id):
            calls.append(user_id)
            return {"id": user_id, "name": "A", "email": None, "role": "agent", "groups": []}

    directory = AgentDirectory(Zendesk(), max_age_s=0, clock=lambda: 5.0)
    directory.get(USER)
    directory.get(USER)
    assert calls == [USER, USER]


# -- Policy ----------------------------------------------------------------------------------


def agent(role: str = "agent", groups: tuple[tuple[str, int], ...] = ()) -> Agent:
    return Agent(id=USER, name="A", email=None, role=role,
                 group_ids=frozenset(gid for _, gid in groups),
                 group_names=frozenset(name for name, _ in groups))


DEFAULT = Policy(DEFAULT_POLICY)
OPEN_ACTIONS = ("diagnose", "associate", "escalate")
LNR_ACTIONS = ("force_associate", "clear_subscription", "unlink_account")


@pytest.mark.parametrize("action", OPEN_ACTIONS)
def test_default_any_agent_may_do_the_open_actions(action):
    assert DEFAULT.refusal(agent(groups=(FIRST_LEVEL,)), action) is None
    assert DEFAULT.refusal(agent(), action) is None


@pytest.mark.parametrize("action", LNR_ACTIONS)
def test_default_agent_outside_lnr_is_refused_with_the_group_named(action):
    reason = DEFAULT.refusal(agent(groups=(FIRST_LEVEL,)), action)
    assert reason == f"{workflow_name(action)} needs membership of the Zendesk group 'License and Renewals'"


@pytest.mark.parametrize("action", LNR_ACTIONS + OPEN_ACTIONS)
def test_default_lnr_member_may_do_every_workflow(action):
    assert DEFAULT.refusal(agent(groups=(FIRST_LEVEL, LICENSE_AND_RENEWALS)), action) is None


@pytest.mark.parametrize("action", LNR_ACTIONS + OPEN_ACTIONS + ("audit",))
def test_an_admin_may_do_everything_without_any_group(action):
    assert DEFAULT.refusal(agent(role="admin"), action) is None


@pytest.mark.parametrize("action", LNR_ACTIONS + OPEN_ACTIONS + ("audit",))
def test_an_end_user_is_refused_everything_even_in_the_group(action):
    reason = DEFAULT.refusal(agent(role="end-user", groups=(LICENSE_AND_RENEWALS,)), action)
    assert reason == f"{workflow_name(action)} is for Zendesk agents only"


@pytest.mark.parametrize("role", ["light-agent", "", "Admin"])
def test_only_the_exact_roles_count(role):
    assert DEFAULT.refusal(agent(role=role, groups=(LICENSE_AND_RENEWALS,)), "diagnose") is not None


def test_audit_is_for_admins_only():
    assert DEFAULT.refusal(agent(groups=(LICENSE_AND_RENEWALS,)), "audit") == "audit is for Zendesk admins only"
    # Even a map that names audit cannot open it to agents.
    policy = Policy({"audit": ("License and Renewals",)})
    assert policy.refusal(agent(groups=(LICENSE_AND_RENEWALS,)), "audit") is not None


def test_a_group_id_matches_by_id_not_by_name():
    policy = Policy({"force_associate": ("361",)})
    assert policy.refusal(agent(groups=(("Renamed team", 361),)), "force_associate") is None
    assert policy.refusal(agent(groups=(("361", 5),)), "force_associate") == (
        "Force associate subscription needs membership of the Zendesk group id 361")


def test_group_names_compare_without_case_or_blanks():
    policy = Policy({"unlink_account": ("  license AND renewals ",)})
    assert policy.refusal(agent(groups=(LICENSE_AND_RENEWALS,)), "unlink_account") is None
    assert policy.refusal(agent(groups=(("License and Renewals EMEA", 9),)), "unlink_account") is not None


def test_any_one_of_several_groups_suffices_and_the_reason_lists_them():
    policy = Policy({"clear_subscription": ("License and Renewals", "4242")})
    assert policy.refusal(agent(groups=(("Billing", 4242),)), "clear_subscription") is None
    assert policy.refusal(agent(groups=(FIRST_LEVEL,)), "clear_subscription") == (
        "Clear subscription needs membership of one of the Zendesk groups "
        "'License and Renewals', id 4242")


def test_the_groups_that_may_are_named_for_the_sidebar():
    policy = Policy({"clear_subscription": ("License and Renewals", "4242")})
    assert policy.allowed_groups("clear_subscription") == ["License and Renewals", "Zendesk group 4242"]
    assert policy.allowed_groups("associate") == []  # every agent may
    assert DEFAULT.allowed_groups("force_associate") == ["License and Renewals"]


def test_an_override_with_another_workflows_effect_names_who_may_confirm_it_in_words():
    refused = DEFAULT.confirmer(agent(groups=(FIRST_LEVEL,)), "subscription_not_linked_elsewhere")
    assert refused["allowed"] is False and refused["allowed_groups"] == ["License and Renewals"]
    assert refused["message"] == (
        "Overriding “Subscription is not linked to another group” has the effect of Clear "
        "subscription (the old namespace loses its plan), so only an agent who may run Clear "
        "subscription may confirm it: a member of the Zendesk group 'License and Renewals'. Ask "
        "one of them to confirm this plan.")
    allowed = DEFAULT.confirmer(agent(groups=(LICENSE_AND_RENEWALS,)), "subscription_not_linked_elsewhere")
    assert allowed["allowed"] is True and "you may confirm it" in allowed["message"]
    anyone = DEFAULT.confirmer(agent(), "subscription_active")
    assert anyone["allowed"] is True and "subscription_active" not in anyone["message"]


def test_an_action_the_map_does_not_name_is_open_to_agents():
    policy = Policy({})
    for action in LNR_ACTIONS + OPEN_ACTIONS:
        assert policy.refusal(agent(), action) is None
