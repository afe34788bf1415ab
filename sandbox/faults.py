"""Fault injection: rules that make the sandbox fail, stall or rate-limit chosen requests.

A rule (JSON, the same in a scenario's top-level `faults`, in `POST /_sandbox/faults` and
in `Sandbox.add_fault`):

    {"upstream": "portal", "method": "PUT", "path": "^/api/v1/subscriptions/A-S00000005/",
     "status": 500, "body": {"error": {"code": "internal_error", "message": "boom"}},
     "times": 1}

- `upstream`: portal, gitlab or zendesk; omitted means any (over HTTP: the server posted to).
- `method`: an HTTP method; omitted means any.
- `path`: a regular expression searched in the request path as sent (percent-encoding kept,
  no query string); omitted means every path.
- exactly one effect: `status` (an error status, with an optional JSON `body`; without one
  the vendor's own error envelope), `retry_after` (a 429 with that `Retry-After`), or
  `delay` (seconds to wait before answering normally).
- `times`: how many matching requests it applies to (default 1); null means every one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

UPSTREAMS = ("portal", "gitlab", "zendesk")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
EFFECTS = ("status", "retry_after", "delay")
MAX_DELAY_S = 120.0


@dataclass
class Fault:
    upstream: str | None
    method: str | None
    path: str | None
    times: int | None
    status: int | None = None
    body: Any = None
    retry_after: int | None = None
    delay: float | None = None
    hits: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def matches(self, upstream: str, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return ((self.upstream is None or self.upstream == upstream)
                and (self.method is None or self.method == method)
                and (self._regex is None or self._regex.search(path) is not None))

    def to_dict(self) -> dict[str, Any]:
        keys = ("upstream", "method", "path", "times", *EFFECTS, "body", "hits")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None or k == "times"}


def parse(rule: Any, where: str = "fault", *, upstream: str | None = None,
          error: type[Exception] = ValueError) -> Fault:
    """A Fault from its JSON form; `error(message)` names the bad key. `upstream` is the
    default for rules posted to one server."""
    if not isinstance(rule, dict):
        raise error(f"{where}: must be an object")
    unknown = sorted(set(rule) - {"upstream", "method", "path", "times", "body", *EFFECTS})
    if unknown:  # a misspelt key would silently widen or disable the rule
        raise error(f"{where}.{unknown[0]}: is not a fault key")
    effects = [k for k in EFFECTS if rule.get(k) is not None]
    if len(effects) != 1:
        raise error(f"{where}: needs exactly one of status, retry_after, delay")
    fault = Fault(
        upstream=_choice(rule.get("upstream", upstream), UPSTREAMS, f"{where}.upstream", error),
        method=_choice(_upper(rule.get("method")), METHODS, f"{where}.method", error),
        path=rule.get("path"), times=_times(rule.get("times", 1), f"{where}.times", error),
        body=rule.get("body"),
    )
    fault._regex = _regex(fault.path, f"{where}.path", error)
    _set_effect(fault, effects[0], rule[effects[0]], f"{where}.{effects[0]}", error)
    if fault.body is not None and fault.status is None:
        raise error(f"{where}.body: only a status fault has a body")
    return fault


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _choice(value: Any, choices: tuple[str, ...], where: str, error) -> str | None:
    if value is not None and value not in choices:
        raise error(f"{where}: must be one of {', '.join(choices)}")
    return value


def _times(value: Any, where: str, error) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{where}: must be a positive integer, or null for every request")
    return value


def _regex(value: Any, where: str, error) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise error(f"{where}: must be a regular expression (a string)")
    try:
        return re.compile(value)
    except re.error as exc:
        raise error(f"{where}: not a regular expression ({exc})") from None


def _set_effect(fault: Fault, effect: str, value: Any, where: str, error) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if effect == "status":
        if not (isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599):
            raise error(f"{where}: must be an error status, 400 to 599")
        fault.status = value
    elif effect == "retry_after":
        if not (number and isinstance(value, int) and value >= 0):
            raise error(f"{where}: must be a whole number of seconds")
        fault.retry_after = value
    else:
        if not (number and 0 <= value <= MAX_DELAY_S):
            raise error(f"{where}: must be seconds between 0 and {MAX_DELAY_S:g}")
        fault.delay = float(value)
