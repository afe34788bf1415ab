"""What a ticket names: subscriptions, namespaces, e-mails and portal customer ids, each in
order of first appearance (triage.md, "What is extracted")."""
from __future__ import annotations

import re
from typing import Any, Iterable

from ..inputs import MAX_ID
from .mail import Mail
from .text import TicketText, _readings

# Mail clients turn "-" into typographic dashes; the name is written back with "-".
_SUBSCRIPTION = re.compile(r"(?<![A-Za-z0-9])a[-\u2010-\u2015\u2212]s(\d{8})(?!\d)", re.IGNORECASE)
# Not followed by `:` and a path: `git@gitlab.com:acme/app.git` is a Git remote, no address.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-]|\.[A-Za-z0-9]|:\S)")
_PATH = r"[A-Za-z0-9_.-]{1,255}(?:/[A-Za-z0-9_.-]{1,255}){0,20}"
# gitlab.com itself, never a host that merely contains it (gitlab.acme.com, about.gitlab.com,
# jane@gitlab.com): nothing that can belong to a host name or an address may precede it.
_GITLAB_URL = re.compile(
    r"(?<![A-Za-z0-9_.@/-])(?:https?://)?(?:www\.)?gitlab\.com(?::443)?/(?:groups/)?(" + _PATH + ")",
    re.IGNORECASE)
_GITLAB_SSH = re.compile(r"(?<![A-Za-z0-9_.-])git@gitlab\.com:(" + _PATH + ")", re.IGNORECASE)
# GitLab's own top-level routes: links there name no group. GitLab's own groups
# (`gitlab-org/gitlab/-/issues/1`) are kept: a project URL yields its path (triage.md), and
# `diagnose` finds out whether it is the customer's.
RESERVED_PATHS = frozenset({
    "-", "users", "dashboard", "explore", "help", "admin", "subscriptions", "profile", "search",
    "api", "oauth", "projects", "snippets", "s", "assets", "uploads", "import", "groups",
    "new", "login", "sign_in", "sign_up", "user_settings", "pricing", "public", "v2",
    "organizations", "invites", "jwt", ".well-known", "abuse_reports", "files",
})
# Routes written before GitLab moved them under `/-/` (e.g. `/acme/app/issues/1`).
_LEGACY_ROUTES = frozenset({"issues", "merge_requests", "tree", "blob", "commits", "commit",
                            "pipelines", "jobs", "raw", "wikis", "settings", "edit"})
_GROUP_WORD = (r"(?:groups?|namespaces?|name space|gruppen?|groupes?|grupos?|gruppo|groep|namensraum|"
               r"グループ|ネームスペース|名前空間)")
# Each language's quotation marks (triage.md: "our group 'acme'"): „…“ and »…« in German,
# «…» in Spanish and Portuguese, « … » (spaces inside) in French, “…”, 「…」 and 『…』.
_QUOTE = "\"'`\u2018\u2019\u201a\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a\u300c\u300d\u300e\u300f"
# "called" in the six languages: the word after it is a name, whatever it looks like
_CALLED = (r"called|named|se llama|se chama|heißt|heisst|lautet|namens|genannt|s'appelle|nommée?|"
           r"appelée?|llamado|chamado|denominado")
_NAMED_AFTER = re.compile(
    # "my personal namespace jdoe": a personal namespace is named by its user's name
    r"(?<![A-Za-z0-9_/.-])(?:(?P<personal>personal|persönliche[nrs]?|personnel|pessoal)\s{1,3})?"
    + _GROUP_WORD + r"(?P<what>\s{1,3}(?:path|name|url|slug)|名|パス)?"
    r"(?P<sep>\s{0,3}[:=]\s{0,3}|\s{1,3}(?:is|was|ist|war|es|est|é|era)\s{1,3}|"
    r"\s{1,3}(?P<called>" + _CALLED + r")\s{1,3}|\s{1,3}|(?=[" + _QUOTE + r"]))"
    r"(?:(?P<q>[(" + _QUOTE + r"])\s?)?"  # "(": "my personal namespace (jdoe-dev)", read as bare
    r"(?P<path>[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}){0,20})",
    re.IGNORECASE)
# "'acme' group", "«acme» group", 「suzuki-ai」というグループ
_NAMED_BEFORE = re.compile(
    r"[" + _QUOTE + r"]\s?(?P<path>[A-Za-z0-9_][A-Za-z0-9_./-]{0,254})\s?[" + _QUOTE + r"]"
    r"(?:\s{1,3}|\s{0,3}(?:という|との|の)\s{0,3}|(?=グループ|ネームスペース))"
    + _GROUP_WORD + r"(?![A-Za-z])", re.IGNORECASE)
# Words that follow "group"/"namespace" but name none.
_NOT_A_NAME = frozenset({
    "the", "a", "an", "is", "it", "not", "none", "n/a", "na", "tbd", "unknown", "same", "this",
    "that", "yes", "no", "free", "premium", "ultimate", "owner", "name", "path", "url", "id",
    "top-level", "sub-group", "subgroup", "self-managed", "self-hosted", "co-owner", "e.g",
    "i.e", "etc", "sign-in", "re-link", "drop-down", "dropdown", "grayed-out", "greyed-out",
    "group", "groups", "namespace", "namespaces",
})
# Words of a sentence that follow "group"/"namespace" without naming one ("my personal
# namespace instead of ...", "the namespace already has ..."): no name unless quoted.
_FUNCTION_WORDS = frozenset("""
to by we us our my your their his her its it instead already also too and or but of for with in
on at from into onto as so then than there here which who what when where why how if because
while until since after before about again still just only even now can could will would should
may might must do does did have has had be been are were am i you he she they them me all any
some each every both other another such more most very please thanks und oder aber von für mit
im auf an zu wir uns unser unsere unseren ich er der die das den dem des ein eine einen noch
schon auch nicht bitte y o pero de del para con en nosotros nuestro nuestra yo el la los las
un una ya tambien también que et ou mais du des pour avec nous notre je le les une déjà aussi
ne pas qui e mas do da dos das com em nós nosso nossa eu os as um uma já não
""".split())
_CUSTOMER_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:customers?(?:\s?(?:portal|dot))?(?:\s?account)?\s?"
    r"(?:id|#|no\.?|nr\.?|number)|portal\s+customer|kunden-?(?:id|nummer|nr\.?)|"
    r"(?:id|n[uú]mero|num[eé]ro|numero)\s+(?:de\s+|du\s+)?client[ea]?)"
    r"\s{0,3}[:#=]?\s{0,3}#?(\d{1,19})(?![0-9])", re.IGNORECASE)


def _unique(values: Iterable[Any], key=lambda v: v) -> tuple[Any, ...]:
    """First appearance wins; `key` says which values are the same."""
    seen: dict[Any, Any] = {}
    for value in values:
        seen.setdefault(key(value), value)
    return tuple(seen.values())


def _clean_path(raw: str) -> str | None:
    """A namespace's full path from what follows `gitlab.com/`: the part before `/-/` (or a
    legacy route), without `.git` or trailing dots; None for GitLab's own routes."""
    kept: list[str] = []
    for segment in raw.split("/"):
        if segment == "-" or segment in _LEGACY_ROUTES or not segment.strip("."):
            break
        kept.append(segment)
    path = "/".join(kept)
    path = re.sub(r"(?:\.git|\.atom)$", "", path, flags=re.IGNORECASE).rstrip(".")
    if not path or kept[0].lower() in RESERVED_PATHS or path.startswith((".", "-")):
        return None
    return path


def _named_path(match: re.Match[str]) -> str | None:
    """A path named in words: quoted, after `:`/`=`/"called" (in any of the six languages),
    after "personal namespace", or bare (or in brackets) when it looks like a path (has
    `_ - . /`). A bare word is too often no name: "namespace acme" alone, "group
    (Maintainer)", or a setting ("the group 2FA enforcement", "namespace SAML2 settings").
    """
    path, end = match.group("path"), match.end("path")
    after = match.string[end:end + 1]
    if after in (":", "@") or _SUBSCRIPTION.fullmatch(path):
        return None  # a URL's scheme, an address, or a subscription name
    if "/" in path and "." in path.split("/")[0]:
        return None  # host/path: another host than gitlab.com (e.g. a self-managed one)
    # A quote closes a quote (French puts a space inside); a bracket is no quote ("groups
    # (I'm in ~1,200)" names none).
    closing = match.string[end:end + 2].lstrip()[:1]
    quoted = match.group("q") not in (None, "(") and closing != "" and closing in _QUOTE
    strong = (quoted or match.group("sep").strip() in (":", "=") or match.group("called")
              or match.group("personal") or (match.group("sep") and match.group("what")))
    path = path.rstrip(".")
    if not path or path.lower() in _NOT_A_NAME or path.isdigit():
        return None
    if not quoted and path.lower() in _FUNCTION_WORDS:
        return None
    if strong or re.search(r"[_\-./]", path):
        return path
    return None


def _url_paths(part: str) -> list[tuple[int, str]]:
    found = []
    for regex in (_GITLAB_URL, _GITLAB_SSH):
        for match in regex.finditer(part):
            path = _clean_path(match.group(1))
            if path:
                found.append((match.start(), path))
    return found


def _word_paths(part: str) -> list[tuple[int, str]]:
    urls = [m.span() for r in (_GITLAB_URL, _GITLAB_SSH) for m in r.finditer(part)]
    found = []
    for match in (*_NAMED_AFTER.finditer(part), *_NAMED_BEFORE.finditer(part)):
        inside_url = any(a <= match.start("path") < b for a, b in urls)
        path = None if inside_url else _named_path_any(match)
        if path:
            found.append((match.start("path"), path))
    return found


def _named_path_any(match: re.Match[str]) -> str | None:
    if "sep" in match.re.groupindex:
        return _named_path(match)
    path = match.group("path").rstrip(".")  # quoted before the word: "'acme' group"
    return path if path and path.lower() not in _NOT_A_NAME and not path.isdigit() else None


def _namespaces(readings: list[Mail]) -> tuple[str, ...]:
    """Named where a group may be named: not in an agent's quoted reply, whose examples
    ("gitlab.com/groups/your-group") are no one's group, nor in a signature."""
    found = []
    for mail in readings:
        text = mail.naming
        found += [p for _, p in sorted(_url_paths(text) + _word_paths(text))]
    return _unique(found, key=str.casefold)  # GitLab paths are case-insensitive


def _customer_ids(texts: list[str]) -> tuple[int, ...]:
    ids = (int(m.group(1)) for text in texts for m in _CUSTOMER_ID.finditer(text))
    return _unique(i for i in ids if 0 < i <= MAX_ID)


Extracted = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[int, ...]]


def _extract(readings: list[Mail]) -> Extracted:
    """Subscription names, addresses and customer ids count wherever the ticket has them
    (a quoted provisioning mail names the subscription); namespaces see `_namespaces`."""
    texts = [mail.whole for mail in readings]
    subscriptions = _unique(f"A-S{m.group(1)}" for t in texts for m in _SUBSCRIPTION.finditer(t))
    emails = _unique(m.group(0).lower() for t in texts for m in _EMAIL.finditer(t))
    return subscriptions, _namespaces(readings), emails, _customer_ids(texts)


def extract(text: TicketText) -> Extracted:
    """(subscriptions, namespaces, emails, customer_ids), each in order of first appearance."""
    return _extract(_readings(text))


