"""`/readyz`'s checks: can this process do its work right now?

Each check answers None (fine) or one line naming what is wrong, for the on-call engineer:
the database is unreachable or not at the newest migration, Redis (when configured) is
unreachable, an upstream refuses its token, or the GitLab token is not an admin's. Every
check has a short timeout, and its result is reused for a while (`ttl_s`) so that a storm
of probes cannot hammer the database or the upstreams; the upstream checks, which spend
real rate limits, are reused longer. Upstream checks are skipped in sandbox mode.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Callable

import requests
from sqlalchemy import text

Problem = str | None


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], Problem]
    ttl_s: float


class Readiness:
    def __init__(self, checks: list[Check], timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self._checks, self._timeout_s, self._clock = checks, timeout_s, clock
        self._results: dict[str, tuple[float, Problem]] = {}
        # One refresh at a time: concurrent probes wait for it instead of repeating it.
        self._lock = threading.Lock()

    def report(self) -> dict[str, Problem]:
        """Every check's problem (None: fine), run again where its result is too old."""
        with self._lock:
            now = self._clock()
            stale = [c for c in self._checks
                     if c.name not in self._results or now - self._results[c.name][0] >= c.ttl_s]
            for name, problem in self._run(stale).items():
                self._results[name] = (now, problem)
            return {c.name: self._results[c.name][1] for c in self._checks}

    def _run(self, checks: list[Check]) -> dict[str, Problem]:
        if not checks:
            return {}
        pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz")
        futures = {c.name: pool.submit(_guarded, c) for c in checks}
        # Each check has its own timeout; this bound holds even if one ignores it.
        deadline = self._clock() + self._timeout_s + 1
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, deadline - self._clock()))
            except FutureTimeout:
                results[name] = f"{name} check did not finish within {self._timeout_s:g} s"
        pool.shutdown(wait=False)
        return results


def _guarded(check: Check) -> Problem:
    try:
        return check.run()
    except Exception as error:  # a check that breaks says so; it never breaks the probe
        return f"{check.name} check failed ({type(error).__name__})"


def database(db, newest: Callable[[], str]) -> Callable[[], Problem]:
    """`newest` reads the migrations' head on the first probe, not at start-up."""
    heads: list[str] = []

    def check() -> Problem:
        with db() as session:
            try:
                session.execute(text("SELECT 1"))
            except Exception as error:
                return f"database unreachable ({type(error).__name__})"
            try:
                version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except Exception:
                version = None
        if not heads:
            heads.append(newest())
        head = heads[0]
        if version != head:
            return (f"database is at migration {version or 'none'}, the newest is {head}: "
                    "run the release step (python -m helpdesk_app.storage.migrate)")
        return None

    return check


def redis(url: str, timeout_s: float) -> Callable[[], Problem]:
    def check() -> Problem:
        from redis import Redis
        from redis.exceptions import RedisError

        client = Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        try:
            client.ping()
        except RedisError as error:
            return f"redis unreachable ({type(error).__name__})"
        finally:
            client.close()
        return None

    return check


def http_token(name: str, setting: str, send: Callable[[], requests.Response],
               accept: Callable[[requests.Response], Problem] = lambda response: None
               ) -> Callable[[], Problem]:
    """A check that one request with the token is answered 2xx, then `accept`s the answer."""
    def check() -> Problem:
        try:
            response = send()
        except requests.RequestException as error:
            return f"{name} unreachable ({type(error).__name__})"
        if response.status_code in (401, 403):
            return f"{name} refused {setting} ({response.status_code})"
        if not response.ok:
            return f"{name} answered {response.status_code} to the token check"
        return accept(response)

    return check


def gitlab_is_admin(response: requests.Response) -> Problem:
    # GET /user shows `is_admin` only to an admin; absent or false: not an admin token.
    # The service reads users' emails and namespaces' billing, which need one.
    try:
        is_admin = response.json().get("is_admin")
    except (ValueError, AttributeError):
        is_admin = None
    if is_admin is not True:
        return "GITLAB_TOKEN is not an admin's token (GET /user shows no is_admin: true)"
    return None


def zendesk_user(response: requests.Response) -> Problem:
    # Zendesk answers users/me for anyone; an unauthenticated caller is the anonymous user.
    try:
        user_id = response.json()["user"]["id"]
    except (ValueError, KeyError, TypeError):
        user_id = None
    return None if user_id else "Zendesk refused ZENDESK_API_TOKEN (users/me is anonymous)"


def for_settings(settings, db, head: Callable[[], str],
                 session: requests.Session | None = None) -> Readiness:
    """The checks this deployment needs: Redis only when configured, upstreams only when
    they are real (the sandbox lives in this process)."""
    timeout = settings.readyz_timeout_s
    local, remote = settings.readyz_cache_s, settings.readyz_upstream_cache_s
    checks = [Check("database", database(db, head), local)]
    if settings.redis_url:
        checks.append(Check("redis", redis(settings.redis_url, timeout), local))
    if settings.mode == "upstream":
        checks += _upstream_checks(settings, session or requests.Session(), timeout, remote)
    return Readiness(checks, timeout)


def _upstream_checks(settings, session: requests.Session, timeout: float, ttl: float) -> list[Check]:
    def get(url: str, **kwargs) -> Callable[[], requests.Response]:
        return lambda: session.get(url, timeout=timeout, allow_redirects=False, **kwargs)

    gitlab_user = str(settings.gitlab_url).rstrip("/") + "/api/v4/user"
    # A lookup that finds no one (200 with an empty list) proves the token; the portal has
    # no "who am I".
    portal_probe = str(settings.portal_api_url).rstrip("/") + "/api/v1/customers"
    zendesk_me = (f"{settings.zendesk_scheme}://{settings.zendesk_subdomain}."
                  f"{settings.zendesk_domain}/api/v2/users/me.json")
    secret = lambda value: value.get_secret_value()  # noqa: E731
    checks = [
        Check("gitlab", http_token("GitLab", "GITLAB_TOKEN", get(
            gitlab_user, headers={"PRIVATE-TOKEN": secret(settings.gitlab_token)}),
            gitlab_is_admin), ttl),
        Check("portal", http_token("the portal", "PORTAL_API_TOKEN", get(
            portal_probe, params={"email": "readiness-check@invalid.example"},
            headers={"Authorization": f"Bearer {secret(settings.portal_api_token)}",
                     "Accept": "application/json"})), ttl),
        Check("zendesk", http_token("Zendesk", "ZENDESK_API_TOKEN", get(
            zendesk_me, auth=(f"{settings.zendesk_email}/token", secret(settings.zendesk_api_token))),
            zendesk_user), ttl),
    ]
    if settings.gitlab_escalation_token is not None:
        checks.append(Check("gitlab_escalation", http_token("GitLab", "GITLAB_ESCALATION_TOKEN", get(
            gitlab_user, headers={"PRIVATE-TOKEN": secret(settings.gitlab_escalation_token)})), ttl))
    return checks
