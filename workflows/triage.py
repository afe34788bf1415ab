"""Triage: what a new ticket is about and what it names. Pure, rule-based, no I/O.

`triage.md` is the spec: one category, chosen in `CATEGORIES` order (the first that
applies wins), a confidence, the cues that chose it, and the subscriptions, namespaces,
e-mails and portal customer ids the ticket names (subject, then description, then the
comments, in order). The classifier reads named, weighted cue patterns; it was written
from the spec, not fitted to the labelled corpus (triage.md, "The corpus"): where a corpus
ticket showed a misreading, the fix is a general rule the spec supports, tested here with
examples of our own, never a pattern for one ticket's wording.

Every pattern is linear on long input: no unbounded quantifier follows another that can
match the same characters, windows are bounded (`.{0,60}`), and matches that could start
anywhere in a run are anchored to the run's start by a look-behind. A ticket is read up to
`MAX_TEXT` characters, so a 1 MB description costs what 200 000 characters cost.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .inputs import MAX_ID

CATEGORIES = ("portal_502", "namespace_taken", "account_link", "compute_minutes",
              "associate_subscription", "other")  # the decision order (triage.md)

# The workflow a category usually leads to; `diagnose`'s own recommendation wins when there
# is one (workflows.notes.triage_note).
RECOMMENDED: dict[str, str | None] = {
    # Seed 001: support links the subscription for a customer who cannot (provisioning email).
    "associate_subscription": "associate",
    # Seed 003: a grayed-out namespace already has a subscription; after checking the seats,
    # force associate. Its plan shows the guards (seats, other subscriptions) for review,
    # and keeps compute-minute subscriptions linked, where clear_subscription would drop the
    # group to Free at once (provisioning-rules.md, namespace_not_taken).
    "namespace_taken": "force_associate",
    # Seed 000/003: the service never links accounts; unlinking the wrong, former or admin
    # account lets the right Owner link theirs ("Change the linked account").
    "account_link": "unlink_account",
    # Seed 003: "If it is for compute minutes, STOP" - an L&R expert reviews the purchases
    # so existing minutes are not overwritten. That is a person, not a workflow: `escalate`
    # is the console-engineers' queue, for failed runs.
    "compute_minutes": None,
    # The customer cannot list groups, so the agent links it for them (seed 001). The
    # associate plan's linked_user_not_admin check catches the usual cause (an admin account
    # linked, seed 001/003), and diagnose then recommends unlink_account instead.
    "portal_502": "associate",
    # Not a provisioning request: nothing to run.
    "other": None,
}

MAX_TEXT = 200_000  # characters read per ticket; the rest is cut
MIN_CONFIDENCE = 0.5  # triage.md: below this setting the category is "uncertain"
NO_CUE_CONFIDENCE = 0.3  # `other` because nothing matched at all
DIGEST_HEX = 12


# -- the ticket's text ---------------------------------------------------------------------


@dataclass(frozen=True)
class TicketText:
    subject: str
    description: str
    comments: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> "TicketText":
        """Strict: a JSON object with string `subject`/`description` (missing: "") and a
        list of string `comments` (missing: none). Other keys are ignored."""
        if not isinstance(data, dict):
            raise ValueError(f"a ticket must be a JSON object, not {_json_type(data)}")
        subject, description = data.get("subject", ""), data.get("description", "")
        for name, value in (("subject", subject), ("description", description)):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string, not {_json_type(value)}")
        comments = data.get("comments", [])
        if not isinstance(comments, list):
            raise ValueError(f"comments must be a list of strings, not {_json_type(comments)}")
        for index, comment in enumerate(comments):
            if not isinstance(comment, str):
                raise ValueError(f"comments[{index}] must be a string, not {_json_type(comment)}")
        return cls(subject=subject, description=description, comments=tuple(comments))


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _parts(text: TicketText) -> list[str]:
    """Subject, description, comments in order, cut to MAX_TEXT characters in all. NFKC
    turns full-width letters and digits (common in CJK mail) into their ASCII forms."""
    parts, budget = [], MAX_TEXT
    for part in (text.subject, text.description, *text.comments):
        if budget <= 0:
            break
        piece = part[:budget]
        budget -= len(piece)
        parts.append(unicodedata.normalize("NFKC", piece))
    return parts


_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u201c": '"',
                       "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
                       "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-"})
_LATIN_ACCENT = re.compile(r"[\u0300-\u036f]")
_SPACE = re.compile(r"\s+")


def _fold(part: str) -> str:
    """Lower case, Latin accents dropped ("grisé" -> "grise"; kana keep their marks), one
    kind of quote and dash, whitespace collapsed, so one pattern covers the spellings."""
    text = _LATIN_ACCENT.sub("", unicodedata.normalize("NFKD", part.casefold()))
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text).translate(_FOLD)).strip()


# -- extraction ----------------------------------------------------------------------------

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
_GROUP_WORD = r"(?:groups?|namespaces?|name space|gruppen?|groupes?|grupos?|gruppo|groep|namensraum)"
_QUOTE = "\"'`\u2018\u2019\u201c\u201d\u00ab\u00bb"
_NAMED_AFTER = re.compile(
    r"(?<![A-Za-z0-9_/.-])" + _GROUP_WORD + r"(?P<what>\s{1,3}(?:path|name|url|slug))?"
    r"(?P<sep>\s{0,3}[:=]\s{0,3}|\s{1,3}(?:is|was|called|named)\s{1,3}|\s{1,3})"
    r"(?P<q>[(" + _QUOTE + r"]?)"  # "(": "my personal namespace (jdoe-dev)", read as bare
    r"(?P<path>[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}){0,20})",
    re.IGNORECASE)
_NAMED_BEFORE = re.compile(
    r"[" + _QUOTE + r"](?P<path>[A-Za-z0-9_][A-Za-z0-9_./-]{0,254})[" + _QUOTE + r"]\s{1,3}"
    + _GROUP_WORD + r"(?![A-Za-z])", re.IGNORECASE)
# Words that follow "group"/"namespace" but name none.
_NOT_A_NAME = frozenset({
    "the", "a", "an", "is", "it", "not", "none", "n/a", "na", "tbd", "unknown", "same", "this",
    "that", "yes", "no", "free", "premium", "ultimate", "owner", "name", "path", "url", "id",
    "top-level", "sub-group", "subgroup", "self-managed", "self-hosted", "co-owner", "e.g",
    "i.e", "etc", "sign-in", "re-link", "drop-down", "dropdown", "grayed-out", "greyed-out",
    "group", "groups", "namespace", "namespaces",
})
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
    """A path named in words: quoted, after `:`/`=`/"is"/"called", or bare (or in brackets)
    when it looks like a path (has `_ - . /` or a digit); "namespace acme" alone, or
    "group (Maintainer)", is too often a word."""
    path, end = match.group("path"), match.end("path")
    after = match.string[end:end + 1]
    if after in (":", "@") or _SUBSCRIPTION.fullmatch(path):
        return None  # a URL's scheme, an address, or a subscription name
    if "/" in path and "." in path.split("/")[0]:
        return None  # host/path: another host than gitlab.com (e.g. a self-managed one)
    # A quote closes a quote; a bracket is no quote ("groups (I'm in ~1,200)" names none).
    quoted = match.group("q") not in ("", "(") and after != "" and after in _QUOTE
    sep = match.group("sep").strip()
    strong = quoted or sep in (":", "=", "called", "named") or (sep and match.group("what"))
    path = path.rstrip(".")
    if not path or path.lower() in _NOT_A_NAME or path.isdigit():
        return None
    if strong or re.search(r"[_\-./0-9]", path):
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


def _namespaces(parts: list[str]) -> tuple[str, ...]:
    found = []
    for part in parts:
        found += [p for _, p in sorted(_url_paths(part) + _word_paths(part))]
    return _unique(found, key=str.casefold)  # GitLab paths are case-insensitive


def _customer_ids(parts: list[str]) -> tuple[int, ...]:
    ids = (int(m.group(1)) for part in parts for m in _CUSTOMER_ID.finditer(part))
    return _unique(i for i in ids if 0 < i <= MAX_ID)


Extracted = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[int, ...]]


def _extract(parts: list[str]) -> Extracted:
    subscriptions = _unique(f"A-S{m.group(1)}" for p in parts for m in _SUBSCRIPTION.finditer(p))
    emails = _unique(m.group(0).lower() for p in parts for m in _EMAIL.finditer(p))
    return subscriptions, _namespaces(parts), emails, _customer_ids(parts)


def extract(text: TicketText) -> Extracted:
    """(subscriptions, namespaces, emails, customer_ids), each in order of first appearance."""
    return _extract(_parts(text))


# -- cues ----------------------------------------------------------------------------------
# Patterns run on folded text (lower case, no Latin accents). `_w` bounds words with ASCII
# letters and digits only, so that CJK phrases, which have no spaces, still match.


def _w(*alternatives: str) -> str:
    return r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])"


@dataclass(frozen=True)
class Cue:
    label: str
    weight: float
    pattern: re.Pattern[str]
    # Phrases that contain the cue's words but do not mean it ("invoice attached" is no
    # invoice request): blanked out before `pattern` is looked for.
    unless: re.Pattern[str] | None = None


def _cue(label: str, weight: float, *alternatives: str, unless: str | None = None) -> Cue:
    return Cue(label, weight, re.compile("|".join(f"(?:{a})" for a in alternatives)),
               re.compile(unless) if unless else None)


SUB_NOUN = _w(r"a-s\d{8}", r"su[bs]{1,2}c?r?i?p?t?i?ons?", "subs", r"licen[cs]es?", "suscripcion(?:es)?",
              "subscripcion", "assinaturas?", "abonnements?", "abbonament[oi]", "abo",
              "lizenz(?:en)?", "licencias?", "licencas?", "licenz[ae]") + \
    r"|サブスクリプション|ライセンス|订阅|訂閱"
PLAN_WORD = _w("plan", "premium", "ultimate", r"seats?", "tier")
SUB_ANY = f"(?:{SUB_NOUN}|{PLAN_WORD})"
GROUP = _w(r"groups?", r"sub-?groups?", r"namespaces?", "name spaces?", r"gruppen?", r"groupes?",
           r"grupos?", "gruppo", "gruppi", r"groep(?:en)?", "namensraum", "espace de noms") + \
    r"|グループ|ネームスペース|名前空間|群组|命名空间"
CANNOT = _w(r"can ?not", r"can'?t", r"could ?not", r"couldn'?t", "unable to", "not able to",
            r"won'?t let (?:me|us)", r"fail(?:s|ed)? to", "impossible to", r"doesn'?t let (?:me|us)")
# A purchase made ("bought") and one only asked about ("how do we buy more?"): only a made
# purchase can be one that is not applied yet (triage.md, rules 4 and 5).
PURCHASED = _w("bought", "purchased", "ordered", "paid(?: for)?", "acquired",
               r"compr(?:e|amos|ado|ei|ou|ato|ati)", "gekauft", "erworben", "achete", "acquis",
               r"acquistat[oi]") + r"|購入|购买"
PURCHASE = f"{PURCHASED}|" + _w("buy", r"purchas(?:e|ing)")
NOT_APPLIED = _w(
    r"(?:not|n't|never|no longer|nicht|pas|nao|non) (?:been |yet |be |being )?(?:applied|showing|shown|"
    r"show(?:s|ing)? up|show|reflect(?:ed|ing)?|added|credited|visible|available|updated|"
    r"appear(?:s|ed|ing)?|there|received|increased|activ(?:e|ated)|linked|associated)",
    r"still (?:shows?|showing|at|says|0|zero|the same|limited|blocked|exceeded|out of)",
    r"neither (?:of them )?(?:shows?|appears?|is|are|has|have)", r"missing", r"disappeared",
    r"no aparece", r"no se (?:muestra|refleja|ve)",
    r"n'apparai?t pas", r"ne s'affiche pas", r"wird nicht angezeigt", r"nicht sichtbar",
    r"erscheint nicht", r"nicht zu sehen", r"fehl(?:t|en)", r"nao aparece",
    r"non (?:appare|compare|viene visualizzat[oa])") + \
    r"|表示されない|反映されない|没有显示|未显示"
RENEWAL = _w("renewals?", "renovacion", "verlangerung", "renouvellement", "renovacao", "rinnovo")
LINK_VERB = _w(r"link(?:s|ed|ing)?", r"associat[a-z]{0,5}", r"appl(?:y|ied|ying)",
               r"assign[a-z]{0,4}", r"attach[a-z]{0,4}", r"activat[a-z]{0,4}", r"connect[a-z]{0,4}",
               r"provision[a-z]{0,5}", r"allocat[a-z]{0,4}", "asociar", r"vincul[a-z]{0,4}",
               "aplicar", "activar", "associer", "lier", "appliquer", "activer", "rattacher",
               "zuordnen", "zuweisen", "verknupfen", "aktivieren", "anwenden", "associare",
               "collegare", "attivare", "applicare", "associar", "ativar") + \
    r"|紐付け|紐づけ|関連付け|適用|关联|绑定"

PORTAL_ERROR = (
    _cue("gateway error", 1.0,
         r"(?<![a-z0-9.,$-])50[24](?![0-9])(?! ?(?:seats?|users?|minutes?|members?|gb|mb|usd|eur|%))",
         _w("bad ?gateway", r"gateway ?(?:error|time-? ?out)", r"erro(?:r|re)? de gateway",
            "erreur de passerelle")),
    _cue("timeout", 0.75, _w(r"time[sd]?[ -]?out", "timing out", "timeouts", "zeituberschreitung",
                             "delai d'attente", "tiempo de espera", "tempo limite", "tempo esgotado")
         + r"|タイムアウト|超时"),
    _cue("server error", 0.75,
         _w("internal server error", r"(?:error|erreur|fehler|erro|errore|http|status)[ :]{0,3}50[0-4]",
            r"50[0-4] (?:error|erreur|fehler)", "service unavailable")),
    _cue("'something went wrong'", 0.75,
         _w("something went wrong", "an error occurred", "algo salio mal", "ocurrio un error",
            "etwas ist schief ?gelaufen", "ein fehler ist aufgetreten",
            "une erreur (?:s'est produite|est survenue)", "quelque chose s'est mal passe",
            "algo deu errado", "ocorreu um erro", "qualcosa e andato storto",
            "si e verificato un errore") + r"|問題が発生|エラーが発生|出错了"),
    _cue("groups never load", 0.75,
         r"(?:groups?|namespaces?|dropdown|drop-down|list) [^\n.]{0,30}(?:never|doesn'?t|does not|"
         r"won'?t|will not|not) (?:load|finish)",
         _w("loading forever", r"keeps? (?:loading|spinning)", r"stuck (?:on |at )?loading")),
)
# triage.md, rule 1: "while linking or listing groups" - the context portal_502 needs.
LINKING_OR_LISTING = _cue(
    "linking or listing groups", 0.5,
    f"(?:{LINK_VERB})[^\\n]{{0,40}}(?:{SUB_ANY}|{GROUP})",
    r"change linked (?:namespace|group)",
    # word-bounded: "downloading the invoice for our group" lists no groups
    _w(r"select(?:s|ed|ing)?", r"choos(?:e|es|ing)", r"pick(?:s|ed|ing)?", r"load(?:s|ed|ing)?",
       r"list(?:s|ed|ing)?", r"fetch(?:es|ed|ing)?")
    + f"[a-z' ]{{0,20}}(?:{GROUP})",
    f"(?:{GROUP}) ?(?:list|dropdown|drop-down|selector|menu)", _w("dropdown", "drop-down"))
PORTAL = _cue("customers portal", 0.5,
              _w(r"customers? ?portal", r"customers\.gitlab\.com", r"customers ?dot", "portal",
                 "portail", "portale", "kundenportal", "manage purchases"))
PORTAL_CONTEXT = (PORTAL, LINKING_OR_LISTING)
MENTIONS_GROUP = re.compile(GROUP)

GRAYED_OUT = _w(r"gr[ae]y(?:ed|d)?[ -]?out", "greyed", "grayed", "ausgegraut", r"grise(?:e|s|es)?",
                "en gris", r"atenuad[oa]s?", r"acinzentad[oa]s?", r"esmaecid[oa]s?", "in grigio",
                r"disabled \(gr[ae]y\)") + r"|グレーアウト|灰色|置灰"
# A feature or control that is grayed out ("approval rules are still greyed out", "greyed-out
# button") is a plan not applied, not a group that cannot be picked (triage.md, rule 2).
FEATURE = _w(r"(?:approval |merge |mr )?rules?", r"buttons?", r"features?", r"toggles?",
             r"checkbox(?:es)?", r"switch(?:es)?")
GRAYED_FEATURE = (f"(?:{FEATURE})(?: (?:are|is|were|was|still|now|all|also|remain|remains|stay|stays|"
                  f"appear|appears|show|shows|as)){{0,3}} (?:{GRAYED_OUT})|(?:{GRAYED_OUT}) (?:{FEATURE})")

TAKEN = (
    _cue("group grayed out", 1.0, GRAYED_OUT, unless=GRAYED_FEATURE),
    _cue("group cannot be selected", 1.0,
         f"(?:{CANNOT}) (?:select|choose|pick|click(?: on)?)[a-z' ]{{0,30}}(?:{GROUP})",
         f"(?:{GROUP})[a-z' ]{{0,30}}(?:{CANNOT}|not|n't) (?:be )?(?:selected|selectable|chosen|clickable)",
         _w("no (?:puedo|podemos) (?:seleccionar|elegir)", "impossible de (?:selectionner|choisir)",
            "nao (?:consigo|conseguimos) (?:selecionar|escolher)",
            "non (?:riesco|riusciamo) a selezionare", r"(?:kann|konnen) [a-z ]{0,30}nicht (?:aus)?wahlen")),
    _cue("group disabled in the list", 0.75,
         f"(?:{GROUP})[^\\n]{{0,40}}(?:disabled|unselectable|unclickable|desactivad[oa]|"
         f"deshabilitad[oa]|desabilitad[oa]|disattivat[oa]|deaktiviert)"),
    _cue("already associated with a subscription", 1.0,
         f"already (?:associated|linked|attached|assigned|tied|connected) (?:to|with) "
         f"[a-z' ]{{0,25}}(?:{SUB_NOUN})",
         f"(?:{GROUP})[a-z' ]{{0,30}}already (?:has|had|have) (?:an? |one |another )?"
         f"[a-z ]{{0,15}}(?:{SUB_NOUN})",
         _w("ya (?:esta|tiene) [a-z ]{0,20}(?:asociad[oa]|suscripcion)",
            "deja (?:associe|lie)e?", "bereits (?:einem |ein )?(?:abonnement|zugeordnet|verknupft)",
            "ja (?:esta )?associad[oa]", "gia associat[oa]")),
)
MOVE = _cue("move a subscription between groups", 1.0,
            _w(r"mov(?:e|ed|ing)", r"transfer(?:s|red|ring)?", r"switch(?:ed|ing)?", r"migrat[a-z]{0,4}",
               r"reassign[a-z]{0,3}", r"re-?link", "change", "changing") + f"[^\\n]{{0,60}}(?:{SUB_NOUN})",
            f"(?:{SUB_NOUN})[^\\n]{{0,60}}" + _w(r"mov(?:e|ed|ing)", r"transfer(?:red|ring)?",
                                                r"switch(?:ed|ing)?", r"migrat[a-z]{0,4}",
                                                r"reassign[a-z]{0,3}"),
            _w("mover", "transferir", "verschieben", "ubertragen", "deplacer", "transferer",
               "spostare", "trasferire"))
MOVE_TO_ONE = Cue("move a subscription to a group", MOVE.weight, MOVE.pattern)

ACCOUNT_LINK = (
    _cue("wrong account linked", 1.0,
         _w(r"wrong (?:gitlab(?:\.com)? )?(?:user ?)?(?:account|user)",
            r"incorrect (?:gitlab(?:\.com)? )?(?:account|user)",
            r"falsche[nsm]? (?:gitlab(?:\.com)?[ -])?(?:konto|account|benutzer)", "mauvais compte",
            "compte incorrect", "cuenta (?:equivocada|incorrecta|erronea)", "conta (?:errada|incorreta)",
            "account sbagliato")),
    _cue("cannot link the account", 1.0,
         f"(?:{CANNOT}) (?:link|connect|associate|change|update|switch) "
         r"(?:my |our |the |a |his |her |their |this )?"
         r"(?:gitlab(?:\.com)? |customers? portal )?(?:user ?)?account",
         # the same said in the passive, as the portal's error puts it
         _w(r"account (?:could ?not|couldn'?t|can ?not|can'?t|was not|wasn'?t) be(?:en)? "
            r"(?:linked|connected|associated)")),
    _cue("already linked to another account", 1.0,
         _w(r"already (?:linked|associated|connected|tied|in use|used|registered) (?:to|with|by) "
            r"(?:another|a different|an ?other|other|some ?one else|a second)",
            "otra cuenta", "anderen konto", "autre compte", "outra conta", "altro account")),
    _cue("change the linked account", 1.0,
         _w(r"(?:change|update|switch|replace|modify)(?:d|s|ing)? (?:the |my |our |this )?"
            r"(?:linked|connected|associated) (?:gitlab(?:\.com)? )?(?:user ?)?account")),
    _cue("unlink the account", 1.0,
         _w(r"(?:unlink|disconnect|detach|remove the link)(?:ed|ing)? (?:of |from )?"
            r"(?:my |our |the |this |his |her |their |that )?(?:gitlab(?:\.com)? |customers? portal |admin )?"
            r"(?:user ?)?account", "desvincular", "dissocier", "scollegare")),
    _cue("transfer the portal account", 1.0,
         _w(r"(?:transfer|change|move|hand over)[a-z]{0,3}[^\n.]{0,30}(?:ownership|owner)[^\n.]{0,30}"
            r"(?:portal|customers ?dot|customers|billing account)",
            r"(?:portal|customers ?dot|customers portal|billing) account[^\n.]{0,40}"
            r"(?:transfer|new owner|ownership|owner change)", r"change (?:the )?account owner"),
         # "transfer the account to me / to bob@...": a person, not a group, receives it
         r"(?<![a-z0-9])transfer (?:the |this |that |our |his |her |their )?"
         r"(?:customers? portal |portal |billing )?account (?:over )?to "
         r"(?:(?:me|us|my|our|another|someone|a new|the new)(?![a-z0-9])|[a-z0-9._%+-]{1,64}@)"),
    _cue("linked to an old or former account", 1.0,
         _w(r"linked (?:to|with) (?:my |our |the |an? |his |her |their )?(?:old|previous|former|personal|"
            r"private|ex|departed|admin)")),
    _cue("the linked account", 0.5,
         _w(r"linked (?:gitlab(?:\.com)? )?account", r"account (?:is |was )?linked",
            r"link(?:ing)? (?:my |our |the |a |his |her |their )?(?:gitlab(?:\.com)? )?account",
            "verknupfte[sn]? konto", r"compte (?:gitlab(?:\.com)? )?lie", "cuenta (?:de gitlab )?vinculada",
            "conta vinculada")),
    _cue("a former employee", 0.75,
         _w(r"(?:former|ex|previous|departed)[ -](?:employee|colleague|coworker|co-worker|admin[a-z]{0,10}|"
            r"owner|staff|member|account)", r"(?:left|leaving) the (?:company|organi[sz]ation|team)",
            r"no longer (?:with|works|employed|at)", r"ehemalige[nrm]?",
            r"ancien(?:ne)? (?:employe|collegue|salarie)",
            r"ex-?(?:empleado|funcionario|colaborador|dipendente)")),
    _cue("a GitLab.com account", 0.25, _w(r"gitlab(?:\.com)? (?:user ?)?account")),
)
# Only these say the ticket is about the link itself, not just about some account.
LINK_SPECIFIC = frozenset(c.label for c in ACCOUNT_LINK[:8])

ADDON = (
    _cue("compute minutes", 1.0,
         _w(r"(?:compute|ci|ci/cd|ci-cd|cicd|pipeline|runner|shared runner|build)[ -]?minutes?",
            r"(?:additional|extra) (?:compute )?minutes", r"minutes? (?:pack|add-?on|top-?up)s?",
            "compute units?", "minutos de (?:ci|computo|compute|calculo)", "minutes de calcul",
            "(?:rechen|ci|compute)[ -]?minuten", "minuti di calcolo")),
    _cue("storage add-on", 1.0,
         _w(r"storage (?:add-?on|pack|purchase|upgrade)s?", r"(?:additional|extra|more) storage",
            r"\d+ ?gb(?: of)?(?: additional| extra)? storage", "almacenamiento adicional",
            "stockage supplementaire", "zusatzlicher speicher", "armazenamento adicional",
            "spazio di archiviazione aggiuntivo"),
         f"(?:{PURCHASE})[a-z0-9 ]{{0,30}}storage"),
)
ADDON_APPLIED = (
    _cue("bought", 0.5, PURCHASED),
    _cue("not applied", 0.5, NOT_APPLIED),
)
SEATS_PURCHASE = _cue(
    "a seats plan bought too", 0.0,
    f"(?:{PURCHASE}) (?:(?:a|an|the|our|my|new|more|additional|extra|\\d+) ){{0,3}}"
    + _w(r"premium", "ultimate", r"seats?", r"licen[cs]es?", "users?"),
    _w(r"\d+ ?(?:seats?|user licen[cs]es?)"),
    _w(r"(?:premium|ultimate) (?:subscription|plan|license|licence|tier)")
    + f"[a-z ]{{0,30}}(?:{PURCHASE})",
    _w(r"renew(?:ed|al|ing)?") + r"[a-z ]{0,20}" + _w("premium", "ultimate"))

ASSOCIATE = (
    _cue("subscription not showing", 1.0, f"(?:{SUB_ANY}|{RENEWAL})[^\\n]{{0,60}}(?:{NOT_APPLIED})",
         _w(r"(?:not|n't) (?:show|see|reflect)(?:s|ing)?") + f"[a-z ]{{0,20}}(?:{SUB_ANY})"),
    _cue("group still on Free", 0.75,
         _w(r"still (?:(?:on|in|at|shows?|showing|says|displays?|lists?|listed as) ){0,2}(?:the )?free",
            r"(?:shows?|showing|says|displays?) (?:the )?free (?:plan|tier)",
            r"(?:free|trial) (?:plan|tier) (?:still|even|although|despite|but)",
            r"sigue (?:en|siendo) (?:el )?(?:plan )?(?:gratuito|free)", "immer noch (?:free|kostenlos)",
            "toujours (?:en |sur )?(?:le plan )?(?:gratuit|free)",
            "ainda (?:no plano |esta no )?(?:gratuito|free)")),
    _cue("link a subscription to a group", 1.0,
         f"(?:{LINK_VERB})[^\\n]{{0,40}}(?:{SUB_NOUN})", f"(?:{SUB_NOUN})[^\\n]{{0,40}}(?:{LINK_VERB})",
         f"(?:{LINK_VERB}) (?:it|this|that|them) (?:to|with|on|onto) (?:the |our |my )?(?:{GROUP})"),
    _cue("change linked namespace", 1.0,
         _w(r"change (?:the )?linked (?:namespace|group)", "change subscription namespace"),
         f"(?:{GROUP}) [a-z' ]{{0,20}}(?:not|n't) (?:in|on) the (?:list|dropdown|drop-down)",
         f"(?:not|n't) (?:see|find) (?:my |our |the )?(?:{GROUP})"),
    _cue("provisioning", 1.0, _w(r"provision[a-z]{0,5}")),
    _cue("reseller or marketplace purchase", 0.75,
         _w("resellers?", "distributors?", r"(?:aws|gcp|google cloud|google|amazon) marketplace",
            "marketplace", "revendeur", "distribuidor", "wiederverkaufer", "rivenditore", "revendedor",
            r"(?:through|via) (?:a |our )?partner")),
    _cue("EDU/OSS/Startups programme", 1.0,
         _w(r"gitlab for (?:education|open source|startups)",
            r"(?:edu|education|educational|academic|oss|open[ -]?source|startups?|non-?profit) "
            r"(?:program(?:me)?s?|license|licence|subscription|plan|application|offer)",
            r"programa? (?:edu|oss|open source|startups?)")),
    _cue("seat count while linking", 0.75,
         _w(r"(?:buy|purchase|pay for|add) (?:more|additional|extra) seats", "more seats",
            r"seat (?:count|number|mismatch|limit)",
            r"(?:more|too many) (?:users|members) than (?:seats|licen[cs]es)",
            r"redirect(?:s|ed)? (?:me |us )?to (?:the )?(?:payment|checkout|purchase|billing)",
            r"asks? (?:me |us )?to (?:buy|purchase|pay)", r"true-?ups?")),
    _cue("names the group to use", 0.75,
         f"(?:here is|here's|this is|below is|please use|use) (?:our |the |my )?(?:{GROUP})",
         f"(?:{GROUP}) (?:path|name|url) ?(?:is|:)"),
    # "renewed" is a purchase made; "renewal" alone ("before renewal", "renewal quote") is
    # not - a renewal counts only when it is not reflected ("subscription not showing").
    _cue("bought a subscription", 0.5, f"(?:{PURCHASED})[a-z0-9 ,-]{{0,40}}(?:{SUB_ANY})",
         _w("renewed")),
)
NAMES_SUBSCRIPTION, NAMES_NAMESPACE = 0.5, 0.3  # weak: naming is not asking

OTHER = (
    _cue("sign-in or 2FA", 1.0,
         _w("2fa", "mfa", r"two[ -]?factor", r"2[ -]?factor", "otp", "authenticator", r"recovery codes?",
            r"one[ -]?time (?:code|password)", "zwei-?faktor", "double authentification",
            "autenticacion de (?:dos|2) factores", "autenticacao de dois fatores")
         + r"|2段階認証|二段階認証|双重认证|两步验证"),
    _cue("password or sign-in trouble", 1.0,
         f"(?:{CANNOT}) (?:log ?in|sign ?in|login|access (?:my|our) account)",
         _w("locked out", r"passwords?", "passwort", "mot de passe", "contrasena", "senha",
            r"reset (?:my |the )?(?:password|account)",
            r"(?:log ?in|sign ?in|login) (?:issue|problem|error)s?",
            r"(?:sign[ -]?in|log[ -]?in|login|magic) links?")
         + r"|パスワード|密码"),
    _cue("pipelines or runners", 1.0,
         _w(r"pipelines?(?! ?-?minutes?)", r"runners?(?! ?-?minutes?)", r"ci jobs?",
            r"jobs? (?:fail[a-z]{0,3}|stuck|pending|hang[a-z]{0,3})",
            r"\.gitlab-ci\.yml", "gitlab-ci", r"build (?:fail[a-z]{0,3}|errors?)")),
    _cue("invoice", 1.0,
         _w(r"invoices?", r"invoiced", r"receipts?", "billing address", "vat",
            r"tax (?:id|exempt[a-z]{0,4}|number)",
            "purchase order", "rechnung(?:en)?", r"facturas?", r"factures?", r"fatture?", r"faturas?",
            "nota fiscal") + r"|請求書|发票",
         # an invoice given as proof or as where a number came from is no invoice request
         unless=_w(r"(?:invoices?|receipts?) (?:is |are |was )?attached",
                   r"attached (?:is |are )?(?:the |our |an? |my )?(?:invoices?|receipts?)",
                   r"(?:according to|as per) (?:the |our |my )?(?:last |latest |recent )?"
                   r"(?:invoices?|receipts?)")),
    # A quote is the sales side of an invoice: a sales request, not a purchase to apply.
    _cue("quote", 1.0,
         _w(r"(?:renewal|sales|price|pricing) quotes?", r"quotations?", r"quotes? (?:for|request)",
            r"(?:send|need|request|get|provide|want)(?: us| me)? (?:a|an|the|new|updated) quote",
            "cotizacion", "devis", "angebot", "orcamento", "preventivo")),
    # Self-managed subscriptions are activated on the instance: no GitLab.com group to link.
    _cue("self-managed licence", 1.0,
         _w(r"activation codes?", r"licen[cs]e (?:keys?|files?)", "cloud licensing",
            r"self-?(?:managed|hosted) (?:instance|licen[cs]e|subscription|premium|ultimate|plan)",
            r"(?:premium|ultimate|subscription|plan|licen[cs]e)s? (?:for )?self-?(?:managed|hosted)")),
    # A name held by another user (dormant-namespace requests) is not a subscription's group.
    _cue("claim a taken name", 1.0,
         _w(r"(?:claim|reclaim)[a-z ]{0,20}(?:namespace|username|user ?name|path|name)s?",
            r"taken by (?:a|an|another|some|the) (?:other |inactive |dormant )?(?:user|person|account)",
            r"(?:inactive|dormant) (?:namespace|username|user ?name)s?(?: policy)?",
            r"(?:name ?)?squatt(?:ing|ers?)")),
    _cue("refund", 1.0,
         _w(r"refund(?:s|ed)?", r"reimburs[a-z]{0,6}", "money back", "chargeback",
            r"cancel[a-z]{0,5} (?:my |our |the )?(?:subscription|renewal|order|auto-?renew[a-z]{0,3}|plan)",
            "reembolso", "remboursement", "ruckerstattung", "erstattung", "rimborso") + r"|返金|退款"),
    _cue("feature request", 1.0,
         _w("feature requests?", r"would be (?:nice|great|useful|helpful) (?:if|to)",
            r"please add (?:a |an |the )?(?:feature|option|support|ability)", "roadmap", "enhancement")),
    _cue("SSO", 1.0, _w("sso", "saml", "scim", r"single sign[ -]?on", "identity provider")),
)


# -- classification ------------------------------------------------------------------------


@dataclass
class _Evidence:
    score: float = 0.0
    applies: bool = False
    cues: list[str] = field(default_factory=list)


def _snippet(text: str) -> str:
    """A matched phrase for people: short, on one line, and never a marker's brackets."""
    text = re.sub(r"[\[\]<>\x00-\x1f\x7f]", " ", text).strip()
    return text if len(text) <= 60 else text[:57].rstrip() + "..."


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def _hits(cues: Iterable[Cue], folded: str) -> dict[str, tuple[float, str]]:
    found = {}
    for cue in cues:
        text = cue.unless.sub(_blank, folded) if cue.unless else folded
        match = cue.pattern.search(text)
        if match:
            found[cue.label] = (cue.weight, f'{cue.label}: "{_snippet(match.group(0))}"')
    return found


def _evidence(hits: Mapping[str, tuple[float, str]], applies: bool) -> _Evidence:
    score = sum(w for w, _ in hits.values())
    return _Evidence(score, applies and score > 0, [text for _, text in hits.values()])


def _portal_502(folded: str, other: _Evidence) -> _Evidence:
    # "whatever caused it" (triage.md), but only "while linking or listing groups": a 502 on a
    # git push or a pipeline, or on the portal's invoice download, is not this category.
    errors, context = _hits(PORTAL_ERROR, folded), _hits(PORTAL_CONTEXT, folded)
    linking = LINKING_OR_LISTING.label in context
    # The portal shows groups only to link a subscription, so a portal error on a ticket about
    # a group is a linking one - unless the ticket is one of other's examples (invoices,
    # sign-in...), which win "even when [they name] a group".
    portal_group = PORTAL.label in context and MENTIONS_GROUP.search(folded) and other.score == 0
    return _evidence({**errors, **context}, bool(errors and (linking or portal_group)))


def _namespace_taken(folded: str, namespaces: tuple[str, ...]) -> _Evidence:
    hits = _hits(TAKEN, folded)
    move = _hits([MOVE], folded)
    if move and len(namespaces) >= 2:  # a move needs both groups named (triage.md)
        hits.update(move)
    return _evidence(hits, bool(hits))


def _account_link(folded: str) -> _Evidence:
    # An account mentioned next to a former employee can be a 2FA or sign-in problem; only a
    # cue about the link itself makes it this category.
    hits = _hits(ACCOUNT_LINK, folded)
    specific = any(label in LINK_SPECIFIC for label in hits)
    evidence = _evidence(hits, specific)
    evidence.applies = evidence.applies and evidence.score >= 1.0
    return evidence


def _compute_minutes(folded: str) -> _Evidence:
    addon, applied = _hits(ADDON, folded), _hits(ADDON_APPLIED, folded)
    # "only when every purchase the ticket mentions is such an add-on" (triage.md)
    seats = _hits([SEATS_PURCHASE], folded)
    return _evidence({**addon, **applied}, bool(addon and applied and not seats))


def _associate(folded: str, subscriptions: tuple[str, ...], namespaces: tuple[str, ...],
               other: _Evidence) -> _Evidence:
    # A move with fewer than two groups named is a request to link it (namespace_taken takes
    # the moves that name both).
    hits = _hits((*ASSOCIATE, MOVE_TO_ONE), folded)
    evidence = _evidence(hits, True)
    if other.score > 0:
        # triage.md: a request matching one of other's examples is other even when it names
        # a subscription or a group; only explicit associate cues can outweigh it.
        evidence.applies = evidence.score > other.score
        return evidence
    if subscriptions:
        evidence.score += NAMES_SUBSCRIPTION
        evidence.cues.append(f"names a subscription: {subscriptions[0]}")
    if namespaces:
        evidence.score += NAMES_NAMESPACE
        evidence.cues.append(f"names a namespace: {namespaces[0]}")
    evidence.applies = evidence.score >= 0.5
    return evidence


def _evaluate(folded: str, found: Extracted) -> dict[str, _Evidence]:
    subscriptions, namespaces = found[0], found[1]
    other = _evidence(_hits(OTHER, folded), True)
    return {
        "portal_502": _portal_502(folded, other),
        "namespace_taken": _namespace_taken(folded, namespaces),
        "account_link": _account_link(folded),
        "compute_minutes": _compute_minutes(folded),
        "associate_subscription": _associate(folded, subscriptions, namespaces, other),
        "other": other,
    }


def _base_confidence(score: float) -> float:
    """One strong cue: 0.6; two: 0.95 (the cap - rules are never certain)."""
    return min(0.95, 0.25 + 0.35 * score)


def _rivals(winner: str, evidence: Mapping[str, _Evidence]) -> list[str]:
    """Categories that also had a case: each lowers the confidence. Associate cues come with
    every linking problem, so they only rival `other`."""
    later = CATEGORIES[CATEGORIES.index(winner) + 1:-2]
    rivals = [c for c in later if evidence[c].applies]
    if winner != "other" and evidence["other"].score > 0:
        rivals.append("other")
    if winner == "other" and evidence["associate_subscription"].score > 0:
        rivals.append("associate_subscription")
    return rivals


def _rival_notes(rivals: list[str], evidence: Mapping[str, _Evidence]) -> list[str]:
    notes = [f"also looks like {c}, which comes later in the order" for c in rivals
             if c not in ("other", "associate_subscription")]
    if "other" in rivals:
        notes.append("also has cues of other: " + "; ".join(evidence["other"].cues))
    if "associate_subscription" in rivals:
        notes.append("associate_subscription's cues are too weak or outweighed: "
                     + "; ".join(evidence["associate_subscription"].cues))
    return notes


def _decide(evidence: Mapping[str, _Evidence]) -> tuple[str, float, tuple[str, ...]]:
    winner = next(c for c in CATEGORIES if evidence[c].applies or c == "other")
    chosen, rivals = evidence[winner], _rivals(winner, evidence)
    notes = _rival_notes(rivals, evidence)
    if chosen.score == 0:
        return winner, NO_CUE_CONFIDENCE, ("no category's cues matched", *notes)
    confidence = max(0.0, _base_confidence(chosen.score) - 0.1 * len(rivals))
    return winner, round(confidence, 2), tuple(chosen.cues + notes)


def _classify(parts: list[str], found: Extracted) -> tuple[str, float, tuple[str, ...]]:
    folded = "\n".join(_fold(p) for p in parts)  # cue windows never cross two texts
    return _decide(_evaluate(folded, found))


def classify(text: TicketText) -> tuple[str, float, tuple[str, ...]]:
    """(category, confidence 0..1, cues): the first category of CATEGORIES that applies."""
    parts = _parts(text)
    return _classify(parts, _extract(parts))


# -- findings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Findings:
    category: str
    confidence: float
    subscriptions: tuple[str, ...]
    namespaces: tuple[str, ...]
    emails: tuple[str, ...]
    customer_ids: tuple[int, ...]
    cues: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "confidence": round(self.confidence, 2),
            "subscriptions": list(self.subscriptions),
            "namespaces": list(self.namespaces),
            "emails": list(self.emails),
            "customer_ids": list(self.customer_ids),
            "cues": list(self.cues),
        }

    def digest(self) -> str:
        """12 hex of SHA-256 over the canonical JSON of `to_dict()`: the stored hash that
        decides whether a new note is posted (triage.md, "The note")."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:DIGEST_HEX]


def triage(text: TicketText) -> Findings:
    parts = _parts(text)
    found = _extract(parts)
    category, confidence, cues = _classify(parts, found)
    subscriptions, namespaces, emails, customer_ids = found
    return Findings(category=category, confidence=confidence, subscriptions=subscriptions,
                    namespaces=namespaces, emails=emails, customer_ids=customer_ids, cues=cues)
