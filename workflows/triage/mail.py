"""The customer's own words in a mail (issue 18): HTML converted to text, then quoted
replies, forwarded mails, signatures and disclaimers set apart.

Reply headers in many languages ("On ... wrote:", "Am ... schrieb ...:", "From:/Sent:/To:"
blocks) are found by mail-parser-reply (pure Python, regular expressions only), with the
Portuguese, Spanish and French forms it lacks or misses added here. Each fragment below a
header is one of:

- `forwarded`: the requester passes it on as the request (a forward marker above its
  header, or the first header of a description whose subject is a forward), read as theirs;
- `agent`: a reply of GitLab's (its header names a support sender or a GitLab address other
  than the no-reply one): none of its words is the customer's;
- `quoted`: anyone else's earlier mail (the customer's own, a colleague's, a GitLab
  notification): its names count, its words are context, not cues.

The library's header patterns are cubic on a long line that starts like a header, so it is
given at most `READ_LIMIT` characters of a text, with every line longer than `LINE_LIMIT`
stood in for by a token (no header is that long); what lies beyond the limit belongs to
the last fragment read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from html.parser import HTMLParser

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.constants import QUOTED_MATCH_INCLUDE as _Q
from mailparser_reply.parser import EmailMessage

READ_LIMIT = 20_000  # characters of one text whose mail structure is read
LINE_LIMIT = 400  # longer lines are no header, and are not shown to the header patterns
LANGUAGES = ["en", "de", "fr", "es", "pt", "it", "nl", "ja"]

_HEADER_KEYS = r"[* ]*(?:{keys}) ?:[ *]*(?:\s{{,2}}).*"
_FROM_HEADER = r"((?:(?:^|\n|\n" + _Q + r")" + _HEADER_KEYS + r"){{2,}}(?:\n.*){{,1}})"


def _from_header(keys: str) -> str:
    return _FROM_HEADER.format(keys=keys)


# Sign-offs alone on their line: the signature starts there. A sign-off followed by more
# words on its line ("Thanks for the quick reply, the group is...") is the message.
_SIGN_OFFS = {
    "en": [r"(?:many |best |warm |kind )?(?:thanks|thank you|thx|cheers|regards)(?: and regards| in advance)?"
           r"[ ,.!]*$", r"(?:best|kind|warm|warmest|many) regards[ ,.!]*$", r"best[ ,.!]*$",
           r"sincerely[ ,.!]*$", r"all the best[ ,.!]*$", r"br[ ,.!]*$"],
    "de": [r"(?:mit )?(?:freundlichen|besten|vielen|herzlichen|lieben|beste|viele|liebe) gr(?:ü|ue)(?:ß|ss)(?:en|e)?[ ,.!]*$",
           r"(?:danke und )?(?:viele |beste |liebe )?gr(?:ü|ue)(?:ß|ss)e?[ ,.!]*$", r"(?:vielen )?dank[e]?[ ,.!]*$",
           r"danke und viele gr(?:ü|ue)(?:ß|ss)e[ ,.!]*$"],
    "es": [r"(?:un )?saludos?(?: cordiales)?[ ,.!]*$", r"atentamente[ ,.!]*$", r"(?:muchas )?gracias(?: de antemano)?[ ,.!]*$",
           r"cordialmente[ ,.!]*$", r"un abrazo[ ,.!]*$"],
    "fr": [r"(?:bien )?cordialement[ ,.!]*$", r"bien (?:à|a) vous[ ,.!]*$", r"merci(?: d'avance| beaucoup)?[ ,.!]*$",
           r"bonne (?:journée|journee|soirée|soiree)[ ,.!]*$", r"salutations[ ,.!]*$"],
    "pt": [r"atenciosamente[ ,.!]*$", r"obrigad[oa](?: desde já)?[ ,.!]*$", r"abraços?[ ,.!]*$", r"att\.?[ ,.!]*$",
           r"cumprimentos[ ,.!]*$", r"saudações[ ,.!]*$", r"um abraço[ ,.!]*$"],
    "ja": [r"(?:何卒|なにとぞ|以上、?)?(?:どうぞ)?よろしくお願い(?:いた)?(?:し)?ます。?$",
           r"ご確認(?:のほど)?、?よろしくお願い(?:いた)?(?:し)?ます。?$"],
}
# The languages the library lacks (pt) or whose patterns miss common clients (es's "El ...
# escribió:" needs two spaces before the verb; fr's forward block uses "Sujet :" and "Pour :").
_EXTRA = {
    "pt": {"wrote_header": r"^(" + _Q + r"Em\s.{1,200}?escreveu:)$",
           "from_header": _from_header("De|Enviado|Enviada|Para|Assunto|Data|Cc"),
           "disclaimers": ["Aviso:", "Confidencial:"], "sent_from": r"Enviado do meu"},
    "es": {"wrote_header": r"^(" + _Q + r"El\s.{1,200}?escribió:)$",
           "from_header": _from_header("De|Enviado|Para|Asunto|Fecha|CC|Cc")},
    # the library's French pattern captures a group inside, which splits its own header
    "fr": {"wrote_header": r"^(" + _Q + r"Le\s.{1,200}?a écrit[a-zA-Z0-9.:;<>()&@ -]{0,40}:)$",
           "from_header": _from_header("De|Envoyé|À|A|Objet|Sujet|Date|Pour|Cc")},
    "ja": {"from_header": _from_header("From|Sent|To|Subject|Date|Cc|差出人|送信日時|宛先|件名|日付")},
    "en": {"disclaimers": [r"CONFIDENTIALITY NOTICE:", r"This e-?mail (?:and any attachments|is confidential)"]},
}


def _pattern(language: str, key: str) -> str:
    """The library's pattern, ours where we add or correct one, sign-offs joined."""
    extra = _EXTRA.get(language, {})
    found = extra.get(key, MAIL_LANGUAGES.get(language, {}).get(key, ""))
    if key == "signatures":
        # ours alone where we have them: the library's "Thanks," or "Best," also start a
        # signature in "Thanks, but the group is still greyed out."
        found = _SIGN_OFFS.get(language) or MAIL_LANGUAGES.get(language, {}).get("signatures", [])
    if key == "disclaimers":
        found = [*MAIL_LANGUAGES.get(language, {}).get("disclaimers", []), *extra.get("disclaimers", [])]
    return "|".join(found) if isinstance(found, list) else found


class _Message(EmailMessage):
    """mail-parser-reply's message, with the patterns above for the languages read here."""

    def _get_language_regex(self, language: str, regex_key: str) -> str:
        return _pattern(language, regex_key)


_FORWARD_MARK = re.compile(
    r"(?:forwarded message|begin forwarded message|weitergeleitete nachricht|mensaje reenviado|"
    r"message transf[ée]r[ée]|mensagem encaminhada|messaggio inoltrato|doorgestuurd bericht|"
    r"転送メッセージ|転送されたメッセージ)", re.IGNORECASE)
_FORWARD_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|sv|r|antw)\s?:\s*)*(?:fwd?|wg|tr|rv|enc|i|doorst|転送)\s?:",
                              re.IGNORECASE)
_ORIGINAL = re.compile(r"-{3,} ?original message ?-{3,}", re.IGNORECASE)
# A support agent's reply: a GitLab address that is not the no-reply one the provisioning
# mails come from, or GitLab's name beside a support word ("GitLab Support", "Soporte
# GitLab"). A support word alone is not enough: "Acme IT Support <it@acme.com>" is the
# customer's own desk, whose quoted mail may name their group.
_AGENT_ADDRESS = re.compile(r"[\w.+-]+@(?:[\w-]+\.)*gitlab\.com\b(?<!noreply@gitlab\.com)"
                            r"(?<!no-reply@gitlab\.com)", re.IGNORECASE)
_AGENT_NAME = re.compile(r"gitlab.{0,40}(?:support|soporte|suporte|supporto|サポート)|"
                         r"(?:support|soporte|suporte|supporto|サポート).{0,40}gitlab", re.IGNORECASE)
_QUOTE_MARK = re.compile(r"^(?:> ?)+", re.MULTILINE)


@dataclass(frozen=True)
class Mail:
    """One text of a ticket, its parts set apart. `whole` is the text as read (HTML
    converted), in which every identifier counts."""

    whole: str
    own: str = ""
    forwarded: tuple[str, ...] = ()
    quoted: tuple[str, ...] = ()
    agent: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()

    @property
    def words(self) -> str:
        """The requester's words: their own and what they forward (the cues' text)."""
        return "\n".join((self.own, *self.forwarded))

    @property
    def naming(self) -> str:
        """Where a group may be named: all but agents' replies and signatures."""
        return "\n".join((self.own, *self.forwarded, *self.quoted))


def forwarded_subject(subject: str) -> bool:
    return bool(_FORWARD_SUBJECT.match(subject))


def read_mail(text: str, *, forwarded: bool = False) -> Mail:
    """`text` set apart; `forwarded`: the ticket's subject says the mail is a forward, so
    its first header starts the forwarded mail even without a marker."""
    whole = html_text(text) if looks_like_html(text) else text
    reply, zendesk = _split_zendesk_quote(whole)
    cut = reply.rfind("\n", 0, READ_LIMIT) + 1 if len(reply) > READ_LIMIT else len(reply)
    head, tail = reply[:cut or READ_LIMIT], reply[cut or READ_LIMIT:]
    fragments = _fragments(head)
    if tail:
        kind, body, signature = fragments[-1]
        fragments[-1] = (kind, body + tail, signature)
    mail = _assemble(whole, fragments, forwarded)
    return replace(mail, agent=(*mail.agent, zendesk)) if zendesk else mail


# Zendesk's own mails start with this line; a reply quotes it, and what follows it is the
# agent's message.
_ZENDESK_QUOTE = re.compile(r"^[> ]*##- .{0,80}-##\s*$", re.MULTILINE)


def _split_zendesk_quote(text: str) -> tuple[str, str]:
    found = _ZENDESK_QUOTE.search(text)
    return (text[:found.start()], text[found.start():]) if found else (text, "")


def _fragments(text: str) -> list[tuple[str, str, str]]:
    """(header, body, signature) per reply, the newest first, long lines restored."""
    short, long_lines = _shorten(text)
    message = _Message(text=short, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    found: list[tuple[str, str, str]] = []
    for reply in message.replies:
        signature = "\n".join([reply.signatures, *reply.disclaimers]).strip()
        header, body = _restore(reply.headers, long_lines), _restore(reply.body, long_lines)
        found.append((header, body, _restore(signature, long_lines)))
    return found or [("", _restore(short, long_lines), "")]


def _assemble(whole: str, fragments: list[tuple[str, str, str]], forwarded: bool) -> Mail:
    parts: dict[str, list[str]] = {"own": [], "forwarded": [], "quoted": [], "agent": []}
    signatures = [signature for _, _, signature in fragments if signature]
    pending = forwarded  # the next header starts a forwarded mail
    for header, body, _ in fragments:
        if not header:  # the newest message: the requester's own words
            own, inline = _split_inline_quotes(body)
            parts["own"].append(_FORWARD_MARK.sub(" ", own))
            parts["quoted"] += inline
            pending = pending or bool(_FORWARD_MARK.search(body[-300:]))
            continue
        if not body.strip() and (_ORIGINAL.search(header) or _FORWARD_MARK.search(header)):
            # "-----Original Message-----" alone: the header block below it says the rest
            pending = pending or bool(_FORWARD_MARK.search(header))
            continue
        kind = "forwarded" if pending or _FORWARD_MARK.search(header) else (
            "agent" if _AGENT_ADDRESS.search(header) or _AGENT_NAME.search(header) else "quoted")
        parts[kind].append(_QUOTE_MARK.sub("", body))
        pending = bool(_FORWARD_MARK.search(body[-300:]))
    return Mail(whole=whole, own="\n".join(parts["own"]), forwarded=tuple(parts["forwarded"]),
                quoted=tuple(parts["quoted"]), agent=tuple(parts["agent"]), signatures=tuple(signatures))


def _split_inline_quotes(body: str) -> tuple[str, list[str]]:
    """Lines quoted with `>` but under no header: someone's earlier words, not the
    requester's new ones."""
    own: list[str] = []
    quoted: list[str] = []
    for line in body.split("\n"):
        (quoted if line.lstrip().startswith(">") else own).append(line)
    return "\n".join(own), ["\n".join(_QUOTE_MARK.sub("", q) for q in quoted)] if quoted else []


_LONG_TOKEN = "\u2063L{}\u2063"  # invisible separators: no pattern of the library reads them
_LONG_RESTORE = re.compile("\u2063L(\\d+)\u2063")


def _shorten(text: str) -> tuple[str, list[str]]:
    long_lines: list[str] = []

    def token(line: str) -> str:
        if len(line) <= LINE_LIMIT:
            return line
        long_lines.append(line)
        return _LONG_TOKEN.format(len(long_lines) - 1)

    return "\n".join(token(line) for line in text.replace("\r\n", "\n").split("\n")), long_lines


def _restore(text: str, long_lines: list[str]) -> str:
    return _LONG_RESTORE.sub(lambda m: long_lines[int(m.group(1))], text) if long_lines else text


# -- HTML ----------------------------------------------------------------------------------

_HTML_START = re.compile(r"^\s*(?:<!doctype html|<html|<head|<body|<div|<p[ >]|<table|<span|<meta|<br)",
                         re.IGNORECASE)
_BLOCK_TAGS = frozenset({"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4",
                         "blockquote", "hr", "pre", "section", "article", "header", "footer"})
_SKIPPED_TAGS = frozenset({"style", "script", "head", "title"})


def looks_like_html(text: str) -> bool:
    """A body that starts with markup. A plain mail may contain `<noreply@gitlab.com>` or
    pasted HTML further down; it is read as text."""
    return bool(_HTML_START.match(text))


class _HtmlText(HTMLParser):
    """Text of an HTML mail: blocks on their own lines, links with their address when it
    is not their text, quoted blocks (`<blockquote>`) marked with `>` as plain mail does."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skipping = 0
        self.quote_depth = 0
        self.links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        if tag in _BLOCK_TAGS:
            self._newline()
        if tag == "blockquote":
            self.quote_depth += 1
            self._newline()
        if tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.lines[-1])))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self.skipping:
            self.skipping -= 1
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1
        if tag in _BLOCK_TAGS:
            self._newline()
        if tag == "a" and self.links:
            self._link_address(*self.links.pop())

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.lines[-1] += re.sub(r"\s+", " ", data)

    def _link_address(self, href: str | None, start: int) -> None:
        if not href:
            return
        address = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
        shown = self.lines[-1][start:]
        if address.strip() and address.strip() not in shown:
            self.lines[-1] += f" ({address.strip()})"

    def _newline(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")
        self.lines[-1] = "> " * self.quote_depth

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines if line.strip(" >") or line == "").strip()


def html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()
