"""What every text shares: ticket links, the sandbox line, Markdown safety
and how a text is put together (its parts, then its marker)."""
from __future__ import annotations

import re
from typing import Iterable

from ..labels import check_label, verdict_label
from ..model import Check

SANDBOX_LINE = ("SANDBOX MODE: this ran against the local sandbox; no real customer, "
                "portal, GitLab or Zendesk data was changed.")
TICKET_URL = "https://{subdomain}.zendesk.com/agent/tickets/{ticket_id}"


def ticket_url(subdomain: str | None, ticket_id: int, *, agent_page: str | None = None) -> str:
    """The ticket in Zendesk's agent interface; in sandbox mode `agent_page` is the local
    agent page's address, since the sandbox's Zendesk has no interface of its own."""
    if agent_page:
        return f"{agent_page.rstrip('/')}/tickets/{int(ticket_id)}"
    if not subdomain:
        return f"Zendesk ticket {ticket_id}"
    return TICKET_URL.format(subdomain=subdomain, ticket_id=int(ticket_id))



def escalation_url(web_url: str | None, iid: int | None, *, agent_page: str | None = None) -> str | None:
    """Where an escalation issue opens: GitLab's `web_url` for it; in sandbox mode the agent
    page's view of the issue (the sandbox's GitLab serves only its API, which answers a
    browser without a token with 401)."""
    if agent_page and iid is not None:
        return f"{agent_page.rstrip('/')}/issues/{int(iid)}"
    return web_url or None


# Invisible, and neither whitespace nor a word character to GitLab's (Ruby) patterns.
_ZERO_WIDTH_SPACE = "\u200b"
_LINE_LEADING_SLASH = re.compile(r"^(\s*)/", re.MULTILINE)
_MENTION = re.compile(r"(?<!\w)@")


def neutralised(text: str) -> str:
    """`text` with no line that starts with `/` and no `@` that starts a mention.

    A fence alone is not enough for every GitLab version: its quick-action extractor once
    knew only fences of exactly three backticks and ended a block at the first ```
    line inside it (gitlab-org/gitlab#24083, #204774), and it reads `/cmd` at a line's
    start (https://docs.gitlab.com/user/project/quick_actions/). A zero-width space before
    a line-leading `/`, and after an `@` that is not inside a word (emails keep theirs),
    leaves the text readable and no longer a command or a reference to anyone.
    """
    text = _LINE_LEADING_SLASH.sub(lambda m: m.group(1) + _ZERO_WIDTH_SPACE + "/", text)
    return _MENTION.sub("@" + _ZERO_WIDTH_SPACE, text)


def fenced(text: str, info: str = "text") -> str:
    """`text`, neutralised, in a fenced code block that nothing inside it can close.

    CommonMark closes a backtick fence only with a fence at least as long
    (https://spec.commonmark.org/0.31.2/#fenced-code-blocks), so the fence is one
    backtick longer than the longest run of backticks in the text.
    """
    text = neutralised(text.replace("\r\n", "\n").replace("\r", "\n"))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _compose(mode: str, parts: Iterable[str], marker_token: str) -> str:
    """Sandbox line first when in sandbox mode, blank lines between parts, marker last."""
    head = [SANDBOX_LINE] if mode == "sandbox" else []
    body = [p for p in (*head, *parts) if p]
    return "\n\n".join([*body, marker_token])


def check_words(check_id: str) -> str:
    """A check as an agent reads it: its label, the id after it as secondary text."""
    return f"{check_label(check_id)} ({check_id})"


def check_line(check: Check) -> str:
    """A check in a note: verdict and label in words, the id after the label."""
    return f"- {verdict_label(str(check.verdict))}: {check_words(check.id)}: {check.message}"


def check_lines(checks: Iterable[Check]) -> str:
    return "\n".join(check_line(c) for c in checks)


def _check_line(check: Check) -> str:
    return f"- [{check.verdict}] {check.id}: {check.message}"


def _check_lines(checks: Iterable[Check]) -> str:
    return "\n".join(_check_line(c) for c in checks)


