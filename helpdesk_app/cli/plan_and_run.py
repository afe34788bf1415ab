"""`plan` and `run`: a provisioning workflow from the command line (cli.py's conventions).

    python -m helpdesk_app plan [--scenario FILE] WORKFLOW [--subscription NAME]...
        [--namespace PATH]... [--customer ID] [--gitlab-user USERNAME_OR_ID] [--ticket ID]
    python -m helpdesk_app run  [--scenario FILE] WORKFLOW ... [--reason TEXT]
        [--idempotency-key KEY]

`plan` prints `Plan.to_dict()` (workflow, decision, inputs, checks, facts, change, and
diagnose's recommendations) plus `mode` and `audit`. `run` plans, confirms the decision it
just planned (with --reason, if given) and executes; it prints `Outcome.to_dict()` plus
`mode`, `idempotency_key` and `audit`.

With `--scenario FILE` the upstreams are an ephemeral sandbox loaded from FILE, started for
the command and stopped before it returns (no thread, file or database is left behind); no
environment variable is read, and the audit records are made in memory only (a chain in
memory, with the stored chain's own fields and hashes: storage/audit_fields.py) and printed
under `audit`. Such a command loads no database machinery (tests/app/test_command_imports.py).

Without it the upstreams are the configured ones (`Settings.from_env()`), and the audit
records are appended to the database at DATABASE_URL, as the service appends them; the
agent is `{"id": null, "name": "cli:<os user>"}`. `run` then changes real systems: it
says so on stderr before it acts.

Exit codes: 0 when a plan was made (whatever its decision; for `run`, whatever the
outcome's status: blocked ends `refused` with nothing done); 2 for bad input or an unusable
environment (unknown workflow, a value outside its grammar, a malformed scenario, missing
settings, `run diagnose`, a needs_override plan without --reason), one line on stderr and
nothing on stdout; 1 when an upstream failed before an outcome could be made (or the audit
record of a finished run could not be written), one line on stderr and nothing on stdout.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import getpass
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import requests

import workflows
from helpdesk_app import sandboxing
from helpdesk_app.cli.errors import CommandFailed, UsageError
from helpdesk_app.engine.terms import IDEMPOTENCY_KEY, MAX_REASON, RUN_STATE
from helpdesk_app.settings import UPSTREAM_SWITCHES, ConfigError, Settings
from helpdesk_app.storage.audit_fields import MemoryChain, plan_fields, run_fields
from helpdesk_app.upstreams import trace
from helpdesk_app.upstreams.budgets import Budget
from helpdesk_app.upstreams.clients import build_clients
from workflows import (
    BadInput,
    Confirmation,
    Decision,
    Inputs,
    Outcome,
    OutcomeStatus,
    Plan,
    Ports,
    Refused,
    Rules,
    UpstreamError,
)
from workflows.clock import SystemClock
from workflows.inputs import MAX_PAIRS, parse

# How long the command waits, after stopping a sandbox, for the threads it started to end.
THREADS_GRACE_S = 5.0
BLOCKED_MESSAGE = "Nothing was done: the plan is blocked; its checks say what to do instead."


# --- arguments -----------------------------------------------------------------------------

def add_commands(commands: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Adds `plan` and `run` to cli.py's subcommands (`parents`: the options every command has)."""
    for name, handler, summary in (
        ("plan", plan_command, "plan a workflow (read only) and print the plan"),
        ("run", run_command, "plan a workflow, confirm that plan and execute it"),
    ):
        command = commands.add_parser(name, help=summary, description=summary, parents=list(parents))
        command.add_argument("workflow", metavar="WORKFLOW",
                             help=f"one of {', '.join(workflows.WORKFLOW_NAMES)}")
        command.add_argument("--scenario", metavar="FILE", type=Path,
                             help="run against an ephemeral sandbox loaded from this scenario "
                                  "file, instead of the configured upstreams")
        command.add_argument("--subscription", metavar="NAME", action="append", default=[],
                             help="a portal subscription, e.g. A-S00012345 (diagnose: up to 3)")
        command.add_argument("--namespace", metavar="PATH", action="append", default=[],
                             help="a GitLab namespace: numeric id or full path (diagnose: up to 3)")
        command.add_argument("--customer", metavar="ID", help="a portal customer id")
        command.add_argument("--gitlab-user", metavar="USERNAME_OR_ID",
                             help="link_account: the GitLab.com account to link (default: the "
                                  "one whose email is the ticket requester's verified email)")
        command.add_argument("--ticket", metavar="ID", help="the Zendesk ticket id")
        if name == "run":
            command.add_argument("--reason", metavar="TEXT",
                                 help="why the overridden checks are acceptable (needed when the "
                                      "plan is needs_override; recorded in the audit trail)")
            command.add_argument("--idempotency-key", metavar="KEY",
                                 help="repeat a run without repeating its change "
                                      "(default: a fresh uuid)")
        command.set_defaults(handler=handler)


@dataclass(frozen=True)
class Request:
    workflow: str
    inputs: Inputs


def _request(args: argparse.Namespace) -> Request:
    """Everything that can be judged without an upstream; UsageError for bad input."""
    name = args.workflow
    if name not in workflows.WORKFLOW_NAMES:
        raise UsageError(f"unknown workflow {name!r}; one of {', '.join(workflows.WORKFLOW_NAMES)}")
    most = MAX_PAIRS if name == "diagnose" else 1
    for option, values in (("--subscription", args.subscription), ("--namespace", args.namespace)):
        if len(values) > most:
            raise UsageError(f"{name} takes at most {most} {option}")
    try:
        inputs = parse({"subscriptions": args.subscription, "namespaces": args.namespace,
                        "customer": args.customer, "gitlab_user": args.gitlab_user,
                        "ticket": args.ticket})
        if name in workflows.MUTATING:  # its required inputs, before any sandbox or upstream
            workflows.MUTATING[name].validate(inputs)
    except BadInput as error:
        raise UsageError(str(error)) from None
    return Request(name, inputs)


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    if not text.strip() or len(text) > MAX_REASON:
        raise UsageError(f"--reason must be text of 1 to {MAX_REASON} characters")
    return text.strip()


def _idempotency_key(text: str | None) -> str:
    if text is None:
        return str(uuid.uuid4())
    if not IDEMPOTENCY_KEY.match(text):
        raise UsageError("--idempotency-key must be 8 to 200 characters of letters, digits "
                         "and _.:-")
    return text


# --- the commands --------------------------------------------------------------------------

def plan_command(args: argparse.Namespace) -> dict[str, Any]:
    request = _request(args)
    with _world(args) as world:
        made, request_ids = _plan(world, request)
        record = world.trail.plan(made, request.inputs.ticket_id, request_ids)
    return {**made.to_dict(), "mode": world.mode, "audit": [record]}


def run_command(args: argparse.Namespace) -> dict[str, Any]:
    request = _request(args)
    reason = _reason(args.reason)
    key = _idempotency_key(args.idempotency_key)
    try:  # diagnose, and a workflow's missing inputs, before any sandbox or upstream
        workflows.check_run(request.workflow, request.inputs, Confirmation(reason=reason))
    except (BadInput, Refused) as error:
        raise UsageError(str(error)) from None
    with _world(args) as world:
        made, request_ids = _plan(world, request)
        records = [world.trail.plan(made, request.inputs.ticket_id, request_ids)]
        if made.decision is Decision.BLOCKED:
            # Nothing to confirm: the service would refuse it too (409 plan_blocked).
            outcome = Outcome(request.workflow, OutcomeStatus.REFUSED, made,
                              message=BLOCKED_MESSAGE)
        else:
            outcome = _execute(world, request, made, reason, key, args.stderr)
            records.append(world.trail.run(request, outcome, reason, outcome.request_ids))
    return {**outcome.to_dict(), "mode": world.mode, "idempotency_key": key, "audit": records}


def _plan(world: "World", request: Request) -> tuple[Plan, list[str]]:
    with trace.capture() as request_ids:
        try:
            made = workflows.plan(request.workflow, world.ports, request.inputs, world.rules)
        except BadInput as error:  # e.g. unlink_account's customer and subscription disagree
            raise UsageError(str(error)) from None
        except UpstreamError as error:
            raise CommandFailed(_upstream_failed(error, "nothing was done")) from None
    return made, list(request_ids)


def _execute(world: "World", request: Request, made: Plan, reason: str | None, key: str,
             stderr) -> Outcome:
    confirmation = Confirmation(decision=made.decision, override_ids=made.override_ids,
                                reason=reason)
    try:
        workflows.check_run(request.workflow, request.inputs, confirmation)
    except Refused as refused:  # a needs_override plan without --reason
        raise UsageError(f"{refused} (overrides: {', '.join(made.override_ids)}); nothing was "
                         "done: run again with --reason TEXT") from None
    if world.mode == "upstream":
        print(f"warning: upstream mode: {request.workflow} ({made.decision}) is about to act on "
              f"the configured upstreams ({world.where}); idempotency key {key}",
              file=stderr, flush=True)
    with trace.capture() as request_ids:
        try:
            outcome = workflows.execute(request.workflow, world.ports, request.inputs, world.rules,
                                        confirmation=confirmation, idempotency_key=f"{key}:apply")
        except (Refused, BadInput) as refused:  # the world moved between the two plans
            outcome = Outcome(request.workflow, OutcomeStatus.REFUSED, made, message=str(refused))
        except UpstreamError as error:  # a read before or after the change failed
            failed = Outcome(request.workflow, OutcomeStatus.FAILED, made, error=error.to_dict(),
                             message=f"{error.upstream} failed: {error.message}",
                             request_ids=tuple(request_ids))
            world.trail.run(request, failed, reason, failed.request_ids)
            raise CommandFailed(_upstream_failed(
                error, f"the change may or may not have been made (idempotency key {key}): "
                       "plan again to see")) from None
    return dataclasses.replace(outcome, request_ids=(*outcome.request_ids, *request_ids))


def _upstream_failed(error: UpstreamError, then: str) -> str:
    details = [f"HTTP {error.status}" if error.status else None,
               error.code, f"request id {error.request_id}" if error.request_id else None]
    said = ", ".join(d for d in details if d)
    return f"{error.upstream} failed: {error.message}{f' ({said})' if said else ''}; {then}"


# --- where the workflow runs -------------------------------------------------------------------

@dataclass(frozen=True)
class World:
    mode: str  # "sandbox" (--scenario) or "upstream"
    ports: Ports
    rules: Rules
    trail: "Trail"
    where: str  # the upstreams, for the warning before a change (no secret)


class Trail:
    """The audit trail the command appends to: the database's (`session_factory`), or one
    in memory."""

    def __init__(self, agent: dict[str, Any], db: Any = None) -> None:
        self._agent, self._db = agent, db
        self._memory = MemoryChain() if db is None else None

    def plan(self, made: Plan, ticket_id: int | None, request_ids: list[str]) -> dict[str, Any]:
        return self._append(plan_fields(agent=self._agent, ticket_id=ticket_id, plan=made,
                                        request_ids=request_ids))

    def run(self, request: Request, outcome: Outcome, reason: str | None,
            request_ids: tuple[str, ...]) -> dict[str, Any]:
        # The CLI executes inline and keeps no row in `runs` (it has no Zendesk agent id, and
        # perhaps no ticket): the record has no run id.
        fields = run_fields(run_id=None, state=RUN_STATE[outcome.status], agent=self._agent,
                            ticket_id=request.inputs.ticket_id, workflow=request.workflow,
                            inputs=request.inputs.to_dict(), override_reason=reason,
                            outcome=outcome.to_dict(), request_ids=list(request_ids))
        try:
            return self._append(fields)
        except UsageError as error:
            changed = str(outcome.changed).lower()
            raise CommandFailed(f"the run ended {outcome.status} (changed: {changed}) but "
                                f"{error}") from None

    def _append(self, fields: dict[str, Any]) -> dict[str, Any]:
        if self._memory is not None:
            return self._memory.append(**fields)
        from sqlalchemy.exc import SQLAlchemyError

        from helpdesk_app.storage import audit
        from helpdesk_app.storage.audit_chain import append_audit

        try:
            with self._db() as session:
                data = audit.as_dict(append_audit(session, **fields))
                session.commit()
        except SQLAlchemyError as error:
            raise UsageError(f"cannot write the audit trail: {type(error).__name__}; is it "
                             "migrated (python -m helpdesk_app.storage.migrate)?") from None
        return data


class _Unlimited:
    """The sandbox has no rate limit, and nothing to share a count with."""

    def take(self, budgets: Sequence[Budget]) -> float:
        return 0.0

    def known_wait(self, budgets: Sequence[Budget]) -> float:
        return 0.0


def _cli_agent() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:  # no LOGNAME/USER and no passwd entry (a bare container)
        user = "unknown"
    return {"id": None, "name": f"cli:{user}"}


@contextlib.contextmanager
def _world(args: argparse.Namespace) -> Iterator[World]:
    if args.scenario is not None:
        with _sandbox_world(args.scenario) as world:
            yield world
    else:
        with _upstream_world() as world:
            yield world


@contextlib.contextmanager
def _sandbox_world(scenario: Path) -> Iterator[World]:
    before = set(threading.enumerate())
    try:
        sandbox = sandboxing.ephemeral(scenario)
    except ConfigError as error:  # the scenario file is unreadable or not one
        raise UsageError(str(error)) from None
    clients: dict[str, Any] = {}
    try:
        settings = Settings.from_env(sandbox.env())  # only the sandbox's: no environment read
        clients = build_clients(settings, _Unlimited(), wait_on_rate_limit=True)
        yield World("sandbox", Ports(portal=clients["portal"], gitlab=clients["gitlab"],
                                     tickets=clients["zendesk"], clock=SystemClock()),
                    settings.rules(), Trail(_cli_agent()), where=f"the sandbox of {scenario}")
    finally:
        _close(clients)
        sandbox.stop()
        _join_threads_since(before)


@contextlib.contextmanager
def _upstream_world() -> Iterator[World]:
    from helpdesk_app.storage.database import make_engine, make_session_factory
    from helpdesk_app.upstreams.budgets import DatabaseBudgets, RedisBudgets

    try:
        settings = Settings.from_env()
    except ConfigError as error:
        raise UsageError(f"{error} (or pass --scenario FILE)") from None
    if settings.mode != "upstream":
        raise UsageError(f"no upstream is configured: set {', '.join(UPSTREAM_SWITCHES)} and the "
                         "other upstream settings, or pass --scenario FILE")
    engine = make_engine(settings.database_url)
    clients: dict[str, Any] = {}
    try:
        db = make_session_factory(engine, audit_key=settings.audit_key.get_secret_value().encode())
        budgets = RedisBudgets(settings.redis_url) if settings.redis_url else DatabaseBudgets(db)
        clients = build_clients(settings, budgets, wait_on_rate_limit=True)
        where = (f"portal {settings.portal_api_url}, GitLab {settings.gitlab_url}, "
                 f"Zendesk {settings.zendesk_subdomain}")
        yield World("upstream", Ports(portal=clients["portal"], gitlab=clients["gitlab"],
                                      tickets=clients["zendesk"], clock=SystemClock()),
                    settings.rules(), Trail(_cli_agent(), db), where=where)
    finally:
        _close(clients)
        engine.dispose()


def _close(clients: dict[str, Any]) -> None:
    """Close the clients' HTTP sessions, so that no kept-alive connection (and no sandbox
    thread serving one) outlives the command. The adapters have no close() of their own:
    this closes every requests.Session they hold, directly or in a library client."""
    for client in clients.values():
        for session in _sessions(vars(client).values()):
            _close_session(session)


def _sessions(values: Any) -> Iterator[requests.Session]:
    """The sessions among `values`: direct, in a library client (its `session`), or in this
    thread's part of a threading.local (the adapters keep their clients per thread)."""
    for value in values:
        if isinstance(value, threading.local):
            yield from _sessions(vars(value).values())
        elif isinstance(value, tuple):
            yield from _sessions(value)
        else:
            session = value if isinstance(value, requests.Session) else getattr(value, "session", None)
            if isinstance(session, requests.Session):
                yield session


def _close_session(session: requests.Session) -> None:
    # urllib3 2 closes a pool's idle connections only when the pool is garbage-collected,
    # and a response kept for its headers (GitLabAdapter's last one) keeps its pool alive:
    # close every pool first, then the session.
    for adapter in session.adapters.values():
        pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
        for key in list(pools.keys()) if pools is not None else ():
            pools[key].close()
    session.close()


def _join_threads_since(before: set[threading.Thread]) -> None:
    deadline = time.monotonic() + THREADS_GRACE_S
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
