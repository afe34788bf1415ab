"""`python -m helpdesk_app COMMAND`: its result on stdout, or an error on stderr with exit
code 2 (architecture.md, "Configuration and modes"); logs go to stderr. At a terminal the
result is for a person (cli/human.py: the decision first, the checks that decide, the
change in words, the rest in brief); piped, or with `--json`, it is one JSON document on
one line, the decision among its first keys. No command at all: the usage, exit code 2.

    python -m helpdesk_app audit-export --output audit.jsonl [--ticket-id 35436]

writes the audit trail as JSON lines (one record per line, oldest first, then one line
`{"chain_head": HEAD}`) to the file, and prints one JSON document saying how many records
it wrote, whether the chain holds, and its head. It reads DATABASE_URL and AUDIT_KEY.

    python -m helpdesk_app audit-verify [--head HEAD]

checks the chain with AUDIT_KEY and, given the head of an earlier export, that the record
with that head is still there: rows removed after it (the newest ones, which leave a chain
that holds) show as `head_found: false`. Exit code 1 when either fails.

    python -m helpdesk_app triage [FILE] [--min-confidence 0.5]

reads a ticket's text as one UTF-8 JSON object, `{"subject": "...", "description": "...",
"comments": ["..."]}`, from FILE (absent or `-`: stdin; at most 5 MB), and prints its
triage findings (triage.md): category, confidence, cues, and the subscriptions,
namespaces, emails and portal customer ids it names, plus "recommended": the category's
usual workflow, or null when the category is uncertain (confidence below
--min-confidence). It needs no environment variable, no database and no upstream.

    python -m helpdesk_app requeue KIND ID

sends one failed run or dead delivery (KIND: run, delivery) back, with an audit record of
kind `requeue`; the deployment's sweeper dispatches it at its next round. It reads
DATABASE_URL only; a row that is not there or not failed: exit code 2.

    python -m helpdesk_app plan [--scenario FILE] WORKFLOW [--subscription NAME]...
        [--namespace PATH]... [--customer ID] [--gitlab-user USERNAME_OR_ID] [--ticket ID]
    python -m helpdesk_app run [--scenario FILE] WORKFLOW ... [--reason TEXT]
        [--idempotency-key KEY]

plan a workflow, or plan, confirm and execute it (cli_workflows.py). With --scenario they
need no environment variable and no database; without it they use the configured upstreams
and the database's audit trail. An upstream that fails before there is a plan or an outcome
to print: exit code 1, one line on stderr.
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

from helpdesk_app.cli import human
from helpdesk_app.cli.errors import CommandFailed, UsageError
from helpdesk_app.cli.plan_and_run import add_commands
from helpdesk_app.engine.terms import REQUEUE_KINDS
from helpdesk_app.errors import ApiError
from helpdesk_app.storage.migrate import database_url_from_env
from workflows.triage import MIN_CONFIDENCE, RECOMMENDED, TicketText, triage

# The commands that read the database import it inside: `triage`, and `plan` and `run` with
# --scenario, load no database machinery (tests/app/test_command_imports.py).


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit itself; one error path instead
        raise UsageError(message)


def _audit_key() -> bytes:
    key = os.environ.get("AUDIT_KEY", "").strip()
    if not key:  # an unkeyed check would pass a chain rewritten by whoever holds the database
        raise UsageError("AUDIT_KEY is required to check the audit chain")
    return key.encode()


def audit_export(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from helpdesk_app.storage import audit
    from helpdesk_app.storage.audit_chain import chain_head, find_audit_break
    from helpdesk_app.storage.database import make_engine, make_session_factory

    engine = make_engine(database_url_from_env())
    try:
        sessions = make_session_factory(engine, audit_key=_audit_key())
        with sessions() as session, _open_output(args.output) as out:
            count = audit.export_json_lines(session, out, ticket_id=args.ticket_id)
            broken_at = find_audit_break(session)
            head = chain_head(session)
    except SQLAlchemyError as error:
        args.output.unlink(missing_ok=True)  # no half-written export left behind
        raise UsageError(f"cannot read the audit trail: {type(error).__name__}") from None
    finally:
        engine.dispose()
    return {"exported": count, "output": str(args.output), "ticket_id": args.ticket_id,
            "chain_intact": broken_at is None, "first_broken_record": broken_at,
            "chain_head": head}


def audit_verify(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from helpdesk_app.storage.audit_chain import chain_head, find_audit_break, holds_head
    from helpdesk_app.storage.database import make_engine, make_session_factory

    engine = make_engine(database_url_from_env())
    try:
        with make_session_factory(engine, audit_key=_audit_key())() as session:
            broken_at = find_audit_break(session)
            found = holds_head(session, args.head) if args.head else None
            head = chain_head(session)
    except SQLAlchemyError as error:
        raise UsageError(f"cannot read the audit trail: {type(error).__name__}") from None
    finally:
        engine.dispose()
    result = {"chain_intact": broken_at is None and found is not False,
              "first_broken_record": broken_at, "head_given": args.head, "head_found": found,
              "chain_head": head}
    if not result["chain_intact"]:
        raise CommandFailed(json.dumps(result, sort_keys=True))
    return result


def requeue_command(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from helpdesk_app.engine import failures
    from helpdesk_app.storage.database import make_engine, make_session_factory

    engine = make_engine(database_url_from_env())
    actor = {"name": getpass.getuser(), "via": "cli"}  # who ran it, as the shell knows them
    try:
        done = failures.requeue(make_session_factory(engine), args.kind, args.id, actor)
    except ApiError as refused:
        raise UsageError(refused.message) from None
    except SQLAlchemyError as error:
        raise UsageError(f"cannot reach the database: {type(error).__name__}") from None
    finally:
        engine.dispose()
    return {**done, "dispatch": "by the sweeper at its next round"}


def _open_output(path: Path):
    try:
        return path.open("x", encoding="utf-8")  # never overwrite an earlier export
    except OSError as error:
        raise UsageError(f"cannot create {path}: {error.strerror}") from None


MAX_TRIAGE_INPUT = 5 * 1024 * 1024  # bytes; a ticket's text is far smaller
TICKET_SHAPE = 'expected a JSON object {"subject", "description", "comments": [...]}'


def triage_command(args: argparse.Namespace) -> dict[str, Any]:
    findings = triage(_ticket_text(_read_input(args.file, args.stdin)))
    certain = findings.confidence >= args.min_confidence
    return {**findings.to_dict(), "recommended": RECOMMENDED[findings.category] if certain else None}


def _read_input(name: str, stdin) -> bytes:
    """At most MAX_TRIAGE_INPUT + 1 bytes, so an endless or huge input is refused, not read."""
    try:
        if name == "-":
            data = getattr(stdin, "buffer", stdin).read(MAX_TRIAGE_INPUT + 1)
        else:
            with open(name, "rb") as file:
                data = file.read(MAX_TRIAGE_INPUT + 1)
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from None
    if isinstance(data, str):  # a text stream without a binary buffer
        try:
            data = data.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise UsageError("input is not UTF-8 text") from None
    if len(data) > MAX_TRIAGE_INPUT:
        raise UsageError(f"input is larger than {MAX_TRIAGE_INPUT // (1024 * 1024)} MB")
    return data


def _ticket_text(data: bytes) -> TicketText:
    if not data.strip():
        raise UsageError(f"empty input: {TICKET_SHAPE}")
    if b"\x00" in data:
        raise UsageError(f"binary input (NUL bytes): {TICKET_SHAPE} in UTF-8")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise UsageError(f"input is not UTF-8 (invalid byte at offset {error.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"input is not JSON: {error.msg} at line {error.lineno} column "
                         f"{error.colno}") from None
    except (ValueError, RecursionError) as error:  # e.g. a 5000-digit number, deep nesting
        raise UsageError(f"input is not usable JSON: {type(error).__name__}") from None
    try:
        return TicketText.from_dict(document)
    except ValueError as error:
        raise UsageError(f"input is not a ticket: {error}") from None


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError("must be a number from 0 to 1")
    return value


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return int(text)


def _head(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise argparse.ArgumentTypeError("must be the 64 hex digits of a chain_head")
    return text


# What a document says first, when a command prints JSON: what happened, then the rest.
FIRST_KEYS = ("workflow", "status", "decision", "changed", "verified", "message")


def _json(result: dict[str, Any]) -> str:
    nested_sorted = json.loads(json.dumps(result, sort_keys=True))
    first = {k: nested_sorted.pop(k) for k in FIRST_KEYS if k in nested_sorted}
    return json.dumps({**first, **nested_sorted})


def _for_a_person(args: argparse.Namespace, stdout) -> bool:
    if getattr(args, "json", False):
        return False
    isatty = getattr(stdout, "isatty", None)
    return bool(isatty and isatty())


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="python -m helpdesk_app",
                   description="The License and Renewals helpdesk service's commands. At a "
                               "terminal they print for a person; piped, or with --json, JSON.")
    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true",
                        help="print the result as one JSON document (the default when piped)")
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                   metavar="COMMAND")
    shared = [output]
    export = commands.add_parser("audit-export", help="write the audit trail as JSON lines",
                                 parents=shared)
    export.add_argument("--output", type=Path, required=True, help="a new file for the JSON lines")
    export.add_argument("--ticket-id", type=_positive, help="only this ticket's records")
    export.set_defaults(handler=audit_export)
    check = commands.add_parser("audit-verify", help="check the audit chain, and an earlier head",
                                parents=shared)
    check.add_argument("--head", type=_head, help="the chain_head an earlier export ended with")
    check.set_defaults(handler=audit_verify)
    ticket = commands.add_parser("triage", help="classify a ticket's text and list what it names",
                                 parents=shared)
    ticket.add_argument("file", nargs="?", default="-", metavar="FILE",
                        help="a JSON file with subject, description and comments (- or absent: stdin)")
    ticket.add_argument("--min-confidence", type=_confidence, default=MIN_CONFIDENCE,
                        help="below this the category is uncertain and nothing is recommended")
    ticket.set_defaults(handler=triage_command)
    again = commands.add_parser("requeue", help="send one failed run or dead delivery back",
                                parents=shared)
    again.add_argument("kind", choices=REQUEUE_KINDS)
    again.add_argument("id", type=_positive)
    again.set_defaults(handler=requeue_command)
    add_commands(commands, parents=shared)
    return root


def main(argv: list[str] | None = None, *, stdout=None, stderr=None, stdin=None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # what can be done, rather than one line about a missing argument
        print(parser().format_help(), file=stderr, end="")
        return 2
    try:
        args = parser().parse_args(argv)
        args.stdin = stdin if stdin is not None else sys.stdin  # only `triage` reads it
        args.stderr = stderr  # `run` warns there before it changes real systems
        handler: Callable[[argparse.Namespace], dict[str, Any]] = args.handler
        result = handler(args)
    except UsageError as error:
        print(f"error: {error}", file=stderr)
        return 2
    except CommandFailed as error:
        print(f"error: {error}", file=stderr)
        return 1
    print(human.render(args.command, result) if _for_a_person(args, stdout) else _json(result),
          file=stdout)
    return 0
