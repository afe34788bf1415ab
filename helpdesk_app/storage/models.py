"""The database's tables as SQLAlchemy models (the engine: database.py; the audit chain:
audit_chain.py).

The database is the source of truth (architecture.md, "Durability"): webhook deliveries,
runs with their lease and timeline, escalations, triage findings and the append-only
audit trail. The same models run on SQLite (one machine) and PostgreSQL (many machines);
only `DATABASE_URL` differs. The schema itself is made by the Alembic migrations in
`migrations/`, never by `create_all`, so that both backends get the same tables, indexes,
partial unique index and PostgreSQL trigger.

Timestamps are timezone-aware UTC in Python and stored as UTC on both backends.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
)

DELIVERY_SOURCES = ("zendesk", "gitlab")
# `dead`: its attempts reached DELIVERY_MAX_ATTEMPTS; nothing retries it until an operator
# requeues it (helpdesk_app/engine/failures.py).
DELIVERY_STATUSES = ("received", "processing", "processed", "ignored", "failed", "dead")
RUN_STATES = ("queued", "running", "succeeded", "failed", "superseded", "escalated",
              "report_failed")  # the post-back can never land
ESCALATION_STATES = ("open", "closed")


# Deterministic constraint names, so the hand-written migration and the models agree and
# a later migration can drop a constraint by name on either backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on both backends.

    SQLite has no time zone type: SQLAlchemy would silently drop the offset of an aware
    value. Values are converted to UTC before they are stored and come back aware (UTC),
    so comparisons and the audit hash see the same instant everywhere. A naive datetime
    is refused: its zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give an aware one, e.g. helpdesk_app.storage.models.utcnow()")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# SQLite only auto-increments an `INTEGER PRIMARY KEY`; PostgreSQL gets a bigint identity.
Id = BigInteger().with_variant(Integer(), "sqlite")
# A Python None is SQL NULL, not the JSON text 'null', so "IS NULL" means "not set".
Json = JSON(none_as_null=True)


def _one_of(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Delivery(Base):
    """One webhook delivery, recorded before it is acknowledged; its key makes retries no-ops."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("source", "delivery_key"),
        CheckConstraint(_one_of("source", DELIVERY_SOURCES), name="source"),
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
        Index(None, "received_at"),
        Index(None, "status"),
        Index(None, "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    delivery_key: Mapped[str] = mapped_column(String(255))
    # Nullable so that retention (DELIVERY_RETENTION_DAYS) may drop the raw body and keep
    # the key that recognises a late retry.
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last failure of its job (an upstream error, or a crash with its traceback).
    last_error: Mapped[dict[str, Any] | None] = mapped_column(Json)


class Run(Base):
    """A confirmed workflow run: a state machine with an attempt count and a lease."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint(_one_of("state", RUN_STATES), name="state"),
        Index(None, "ticket_id", "created_at"),
        Index(None, "state", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    inputs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(Json)  # the plan the agent confirmed
    decision: Mapped[str] = mapped_column(String(32))
    override_ids: Mapped[list[str]] = mapped_column(Json, default=list)
    override_reason: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int] = mapped_column(BigInteger)  # the Zendesk user id
    agent: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # name, email
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request body: the same key with a different body is a client error,
    # not a replay.
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # Durable execution (helpdesk_app/engine/leases.py): when the next attempt may start, when a
    # queue last took the id, when the result reached the ticket, the last transient error.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(Json)

    events: Mapped[list["RunEvent"]] = relationship(
        back_populates="run", order_by="RunEvent.id", cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def record(self, kind: str, detail: dict[str, Any] | None = None) -> "RunEvent":
        """Add an event to the run's timeline (flushed with the run)."""
        run_event = RunEvent(kind=kind, detail=detail or {}, at=utcnow())
        self.events.append(run_event)
        return run_event


class RunEvent(Base):
    """One entry of a run's timeline, shown to the agent while the run goes on."""

    __tablename__ = "run_events"
    __table_args__ = (Index(None, "run_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    run: Mapped[Run] = relationship(back_populates="events")


class Escalation(Base):
    """A ticket's console escalation issue in GitLab.

    The row is written before the issue is created (architecture.md, "Effects once"), so
    the issue's iid and URL are empty until then. At most one escalation per ticket and
    workflow is open at a time; closed ones are kept.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        CheckConstraint(_one_of("state", ESCALATION_STATES), name="state"),
        Index("uq_escalations_open_ticket_id_workflow", "ticket_id", "workflow", unique=True,
              sqlite_where=text("state = 'open'"), postgresql_where=text("state = 'open'")),
        Index(None, "ticket_id"),
        Index(None, "gitlab_issue_iid"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    workflow: Mapped[str] = mapped_column(String(64))
    gitlab_issue_iid: Mapped[int | None] = mapped_column(BigInteger)
    gitlab_issue_url: Mapped[str | None] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16), default="open")
    marker: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Lease(Base):
    """A named lease one process holds at a time (e.g. the deployment's one sweeper)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RateSlot(Base):
    """One request recorded against an upstream budget (helpdesk_app/upstreams/budgets.py)."""

    __tablename__ = "rate_slots"
    __table_args__ = (Index(None, "bucket", "taken_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))
    # Seconds since the epoch: the windows are seconds long, and arithmetic stays plain.
    taken_at: Mapped[float] = mapped_column(Double)


class TicketFindings(Base):
    """Triage's current findings for a ticket; a new note is posted only when the hash changes."""

    __tablename__ = "ticket_findings"
    __table_args__ = (UniqueConstraint("ticket_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    findings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    findings_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuditRecord(Base):
    """Append-only. Each row carries the hash of the one before it, so tampering shows.

    Nothing updates or deletes these rows: the ORM refuses (see `_refuse_audit_changes`),
    and on PostgreSQL a trigger made by the migration refuses UPDATE, DELETE and TRUNCATE.
    Create them with `append_audit`, never directly. `prev_hash` is unique, so two appends
    that read the same head cannot both commit: the chain cannot fork.
    """

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("hash"),
        UniqueConstraint("prev_hash"),
        Index(None, "ticket_id", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))  # plan, run, escalation, ...
    agent: Mapped[dict[str, Any] | None] = mapped_column(Json)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    workflow: Mapped[str | None] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any] | None] = mapped_column(Json)
    checks: Mapped[list[Any] | None] = mapped_column(Json)
    override_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(Json)
    upstream_request_ids: Mapped[list[Any] | None] = mapped_column(Json)
    # The request (or job) the record was written under (helpdesk_app.logs).
    request_id: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AppendOnlyError(RuntimeError):
    """Something tried to change or remove an audit record."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    # Registered on the Session class, so it guards every session however it was made.
    changed = [o for o in session.dirty if isinstance(o, AuditRecord) and session.is_modified(o)]
    deleted = [o for o in session.deleted if isinstance(o, AuditRecord)]
    if changed or deleted:
        raise AppendOnlyError("audit records are append-only: refusing to "
                              + ("update" if changed else "delete") + " one")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state) -> None:
    # `session.execute(update(AuditRecord))` bypasses the flush; refuse it here too.
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ is AuditRecord:
        raise AppendOnlyError("audit records are append-only: refusing a bulk UPDATE or DELETE")
