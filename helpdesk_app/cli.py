"""`python -m helpdesk_app COMMAND`: one JSON document on stdout, or an error on stderr
with exit code 2 (architecture.md, "Configuration and modes"); logs go to stderr.

    python -m helpdesk_app audit-export --output audit.jsonl [--ticket-id 35436]

writes the audit trail as JSON lines (one record per line, oldest first) to the file, and
prints one JSON document saying how many records it wrote and whether the hash chain holds.
It reads DATABASE_URL only.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.exc import SQLAlchemyError

from . import audit
from .db import find_audit_break, make_engine, make_session_factory
from .migrate import database_url_from_env


class UsageError(Exception):
    """Bad arguments or an unusable environment: exit code 2, one line on stderr."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit itself; one error path instead
        raise UsageError(message)


def audit_export(args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(database_url_from_env())
    try:
        with make_session_factory(engine)() as session, _open_output(args.output) as out:
            count = audit.export_json_lines(session, out, ticket_id=args.ticket_id)
            broken_at = find_audit_break(session)
    except SQLAlchemyError as error:
        args.output.unlink(missing_ok=True)  # no half-written export left behind
        raise UsageError(f"cannot read the audit trail: {type(error).__name__}") from None
    finally:
        engine.dispose()
    return {"exported": count, "output": str(args.output), "ticket_id": args.ticket_id,
            "chain_intact": broken_at is None, "first_broken_record": broken_at}


def _open_output(path: Path):
    try:
        return path.open("x", encoding="utf-8")  # never overwrite an earlier export
    except OSError as error:
        raise UsageError(f"cannot create {path}: {error.strerror}") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return int(text)


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="python -m helpdesk_app")
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)
    export = commands.add_parser("audit-export", help="write the audit trail as JSON lines")
    export.add_argument("--output", type=Path, required=True, help="a new file for the JSON lines")
    export.add_argument("--ticket-id", type=_positive, help="only this ticket's records")
    export.set_defaults(handler=audit_export)
    return root


def main(argv: list[str] | None = None, *, stdout=None, stderr=None) -> int:
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        args = parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], dict[str, Any]] = args.handler
        result = handler(args)
    except UsageError as error:
        print(f"error: {error}", file=stderr)
        return 2
    print(json.dumps(result, sort_keys=True), file=stdout)
    return 0
