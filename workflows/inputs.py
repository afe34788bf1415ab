"""The grammar of a workflow's inputs. A value outside it is bad input (API 4xx, CLI exit 2).

Whether a well-formed subscription, namespace, customer or ticket exists is for the plan to
find out (its `*_exists` checks), never for this module.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import BadInput

SUBSCRIPTION_NAME = re.compile(r"^a-s\d{8}$", re.IGNORECASE)
# Other portal names are allowed (the portal judges them) but stay within a safe alphabet.
SUBSCRIPTION_GRAMMAR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAMESPACE_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_NAMESPACE_LENGTH = 255
MAX_PAIRS = 3  # diagnose plans at most 3 subscriptions x 3 namespaces
# Ids of Zendesk, GitLab and the portal are 64-bit; a larger number is no id of theirs
# (and would overflow the database's BIGINT).
MAX_ID = 2**63 - 1


def subscription_name(value: Any, field_name: str = "subscription") -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{field_name} must be a non-empty string", field=field_name)
    name = value.strip()
    if SUBSCRIPTION_NAME.match(name):
        return name.upper()
    if not SUBSCRIPTION_GRAMMAR.match(name):
        raise BadInput(
            f"{field_name} is not a subscription name (expected e.g. A-S00012345)",
            field=field_name,
        )
    return name


def namespace_ref(value: Any, field_name: str = "namespace") -> int | str:
    """A numeric id, or a full path of `/`-separated segments of letters, digits, `_-.`."""
    if isinstance(value, bool):
        raise BadInput(f"{field_name} must be a namespace id or full path", field=field_name)
    if isinstance(value, int):
        if not 0 < value <= MAX_ID:
            raise BadInput(f"{field_name} id must be a positive 64-bit integer", field=field_name)
        return value
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{field_name} must be a namespace id or full path", field=field_name)
    text = value.strip()
    if is_ascii_digits(text):
        return namespace_ref(int(text), field_name)
    segments = text.split("/")
    # Dot-only segments are not GitLab paths, and must never reach a URL as `.`/`..`.
    valid = all(NAMESPACE_SEGMENT.match(s) and s.strip(".") for s in segments)
    if len(text) > MAX_NAMESPACE_LENGTH or not valid:
        raise BadInput(
            f"{field_name} is not a GitLab full path (segments of letters, digits, '_', '-', '.')",
            field=field_name,
        )
    return text


# A GitLab.com username: letters, digits, `_`, `-` and `.`, not starting with `-` or `.`
# (GitLab's own rule, https://docs.gitlab.com/user/namespace/).
GITLAB_USERNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")


def gitlab_user_ref(value: Any, field_name: str = "gitlab_user") -> int | str:
    """A GitLab.com user: a numeric id, or a username (a leading `@` is dropped)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return positive_id(value, field_name)
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{field_name} must be a GitLab.com username or numeric user id", field=field_name)
    text = value.strip().removeprefix("@")
    if text.isascii() and text.isdigit():
        return positive_id(int(text), field_name)
    if not GITLAB_USERNAME.match(text):
        raise BadInput(f"{field_name} is not a GitLab.com username (letters, digits, '_', '-', '.')",
                       field=field_name)
    return text
def is_ascii_digits(text: str) -> bool:
    """0-9 only: `str.isdigit` also accepts "²" and other digits `int()` refuses (a 500)."""
    return text.isascii() and text.isdigit()


def positive_id(value: Any, field_name: str) -> int:
    if isinstance(value, bool):
        raise BadInput(f"{field_name} must be a positive integer", field=field_name)
    if isinstance(value, str) and is_ascii_digits(value.strip()):
        value = int(value.strip())
    if not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise BadInput(f"{field_name} must be a positive 64-bit integer", field=field_name)
    return value


@dataclass(frozen=True)
class Inputs:
    """Normalised inputs; which are required depends on the workflow."""

    subscriptions: tuple[str, ...] = ()
    namespaces: tuple[int | str, ...] = ()
    customer_id: int | None = None
    ticket_id: int | None = None
    # link_account's GitLab.com user: an id or a username (None: found by the requester).
    gitlab_user: int | str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def subscription(self) -> str | None:
        return self.subscriptions[0] if self.subscriptions else None

    @property
    def namespace(self) -> int | str | None:
        return self.namespaces[0] if self.namespaces else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["subscriptions"] = list(self.subscriptions)
        data["namespaces"] = list(self.namespaces)
        data.pop("extra")
        if data["gitlab_user"] is None:  # only link_account has it; other plans stay as they were
            data.pop("gitlab_user")
        return data


def _as_list(raw: dict[str, Any], single: str, plural: str) -> list[Any]:
    values: list[Any] = []
    if raw.get(single) not in (None, ""):
        values.append(raw[single])
    many = raw.get(plural)
    if many is not None:
        if not isinstance(many, list):
            raise BadInput(f"{plural} must be a list", field=plural)
        values.extend(many)
    return values


def _unique(values: list[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


def parse(raw: dict[str, Any]) -> Inputs:
    """Parse the loose inputs of an API body or CLI call into `Inputs`."""
    if not isinstance(raw, dict):
        raise BadInput("inputs must be an object")
    subscriptions = _unique(
        [subscription_name(v) for v in _as_list(raw, "subscription", "subscriptions")]
    )
    namespaces = _unique([namespace_ref(v) for v in _as_list(raw, "namespace", "namespaces")])
    customer = raw.get("customer", raw.get("customer_id"))
    ticket = raw.get("ticket", raw.get("ticket_id"))
    gitlab_user = raw.get("gitlab_user")
    return Inputs(
        subscriptions=subscriptions,
        namespaces=namespaces,
        customer_id=positive_id(customer, "customer") if customer not in (None, "") else None,
        ticket_id=positive_id(ticket, "ticket") if ticket not in (None, "") else None,
        gitlab_user=gitlab_user_ref(gitlab_user) if gitlab_user not in (None, "") else None,
    )
