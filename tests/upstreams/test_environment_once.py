"""The upstream clients read the environment's HTTP settings once, for their own host
(trace.environment_once), where requests read them, and ~/.netrc, on every call."""
from __future__ import annotations

import pytest

from helpdesk_app.upstreams.gitlab import GitLabAdapter
from helpdesk_app.upstreams.portal import PortalClient
from helpdesk_app.upstreams.zendesk import ZendeskAdapter

PROXY = "http://proxy.example.test:3128"


def sessions() -> dict:
    gitlab = GitLabAdapter("https://gitlab.example.test", "t", escalation_project="a/b")
    return {"portal": PortalClient("https://portal.example.test", "t")._session,
            "gitlab": gitlab._gl.session,
            "zendesk": ZendeskAdapter("acme", "bot@acme.test", "t")._session}


@pytest.fixture
def proxied(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "gitlab.example.test")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    return monkeypatch


def test_each_client_resolves_the_proxy_and_ca_bundle_for_its_host_once(proxied):
    found = sessions()
    assert not any(session.trust_env for session in found.values())  # no per-call reading
    assert found["portal"].proxies.get("https") == PROXY
    assert found["zendesk"].proxies.get("https") == PROXY
    assert "https" not in found["gitlab"].proxies  # NO_PROXY names its host
    assert {s.verify for s in found.values()} == {"/etc/ssl/certs/ca-certificates.crt"}
    proxied.delenv("HTTPS_PROXY")  # read once: a later change is not seen
    assert found["portal"].proxies.get("https") == PROXY
