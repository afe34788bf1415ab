"""Reading a mail: the requester's own words set apart from quoted replies, forwarded mails,
signatures and disclaimers, in the six languages triage reads (workflows/triage/mail.py).
Examples of our own, not the corpus's."""
from __future__ import annotations

import pytest

from workflows.triage import TicketText, extract, triage
from workflows.triage.mail import LINE_LIMIT, READ_LIMIT, forwarded_subject, html_text, read_mail

AGENT_HEADERS = {
    "en": "On Tue, Dec 1, 2026 at 4:02 PM Ann Lee (GitLab Support) <support@gitlab.com> wrote:",
    "de": "Am 02.12.2026 um 14:31 schrieb GitLab Support <support@gitlab.com>:",
    "es": "El mié, 2 dic 2026 a las 10:05, Soporte GitLab (<support@gitlab.com>) escribió:",
    "fr": "Le mar. 2 déc. 2026 à 10:12, Support GitLab <support@gitlab.com> a écrit :",
    "pt": "Em ter., 1 de dez. de 2026 às 15:40, Suporte GitLab <support@gitlab.com> escreveu:",
    "ja": "2026年12月2日(水) 10:00 GitLab Support <support@gitlab.com>:",
}


@pytest.mark.parametrize("language", AGENT_HEADERS)
def test_an_agents_quoted_reply_is_not_the_customers_words(language):
    text = f"The group is gitlab.com/acme-one.\n\n{AGENT_HEADERS[language]}\n> Is the group greyed out?\n"
    mail = read_mail(text)
    assert "acme-one" in mail.own and "greyed" not in mail.own
    assert mail.agent and "greyed out" in mail.agent[0] and not mail.agent[0].startswith(">")
    assert mail.quoted == () and mail.forwarded == ()


def test_a_customers_own_earlier_mail_in_the_thread_is_quoted_not_agent():
    text = ("Any news?\n\nOn Mon, Nov 30, 2026 at 10:47 AM Pete <pete@corvid.example.com> wrote:\n"
            "> we bought A-S00000001 for https://gitlab.com/corvid\n")
    mail = read_mail(text)
    assert mail.own.strip() == "Any news?" and mail.agent == ()
    assert "gitlab.com/corvid" in mail.quoted[0] and "gitlab.com/corvid" in mail.naming
    assert "corvid" not in mail.words


def test_a_provisioning_mail_from_the_no_reply_address_is_quoted_not_agent():
    mail = read_mail("Please apply it.\n\nOn 4 Jun 2024, GitLab <noreply@gitlab.com> wrote:\n> Subscription: A-S00000001\n")
    assert mail.agent == () and "A-S00000001" in mail.quoted[0]


@pytest.mark.parametrize("marker, header", [
    ("---------- Forwarded message ---------", "From: Eve <eve@example.com>\nDate: Mon, 30 Nov 2026\nSubject: x\nTo: Bo <bo@example.com>"),
    ("-------- Weitergeleitete Nachricht --------", "Betreff: x\nDatum: Mon, 30 Nov 2026\nVon: Eve <eve@example.com>\nAn: bo@example.com"),
    ("---------- Mensaje reenviado ---------", "De: Eve <eve@example.com>\nFecha: lun, 30 nov 2026\nAsunto: x\nPara: Bo <bo@example.com>"),
    ("-------- Message transféré --------", "Sujet : x\nDate : Mon, 30 Nov 2026\nDe : Eve <eve@example.com>\nPour : Bo <bo@example.com>"),
    ("---------- Mensagem encaminhada ---------", "De: Eve <eve@example.com>\nData: seg., 30 de nov.\nAssunto: x\nPara: Bo <bo@example.com>"),
])
def test_a_forwarded_mail_is_read_as_the_requesters(marker, header):
    text = f"See below, please help.\n\n{marker}\n{header}\n\nOur group is greyed out: gitlab.com/eve-co\n"
    mail = read_mail(text)
    assert "greyed out" in mail.words and "gitlab.com/eve-co" in mail.naming
    assert "Forwarded" not in mail.own and "Weitergeleitete" not in mail.own


def test_an_outlook_block_below_a_forward_subject_is_forwarded_and_below_a_reply_is_quoted():
    text = ("Please activate it.\n\n-----Original Message-----\nFrom: Orders <orders@example.com>\n"
            "Sent: 30 November 2026 14:03\nTo: me@example.com\nSubject: Order\n\nThe group is greyed out.\n")
    assert "greyed out" in read_mail(text, forwarded=True).words
    assert "greyed out" not in read_mail(text, forwarded=False).words
    assert forwarded_subject("FW: Order 1") and forwarded_subject("WG: Bestellung")
    assert forwarded_subject("RV: Activación") and forwarded_subject("TR: Commande")
    assert forwarded_subject("Enc: Ativação") and forwarded_subject("Re: Fwd: x")
    assert not forwarded_subject("Re: Your subscription") and not forwarded_subject("Frage: x")


@pytest.mark.parametrize("sign_off", ["Kind regards,", "Mit freundlichen Grüßen", "Saludos cordiales,",
                                      "Cordialement,", "Atenciosamente,", "よろしくお願いいたします。"])
def test_a_signature_is_set_apart_from_the_words_and_the_names(sign_off):
    text = (f"Please apply A-S00000001 to gitlab.com/acme.\n\n{sign_off}\nJo Doe\n"
            "Calle 502 # 12-34 | Tel +1 415 502 7734 | https://gitlab.com/jo-doe\njo@acme.example.com\n")
    mail = read_mail(text)
    assert "502" not in mail.words and "jo-doe" not in mail.naming
    assert mail.signatures and "jo@acme.example.com" in mail.signatures[0]
    assert "jo@acme.example.com" in mail.whole  # an address counts wherever it is


@pytest.mark.parametrize("line", ["Thanks for the quick reply, but the group is still greyed out.",
                                  "Thanks, but the group is still greyed out.",
                                  "Best, the group is still greyed out.",
                                  "Gracias, pero el grupo sigue greyed out.",
                                  "Merci, mais le groupe est toujours greyed out."])
def test_a_sign_off_word_that_starts_a_sentence_is_not_a_signature(line):
    mail = read_mail(f"Hi,\n{line}\nJo")
    assert "greyed out" in mail.words


def test_below_zendesks_reply_line_is_the_agents_message():
    text = ("Yes, it is gitlab.com/acme-two.\n\n##- Please type your reply above this line -##\n\n"
            "Ann (GitLab Support)\nIs the group greyed out? Example: gitlab.com/groups/your-group\n")
    mail = read_mail(text)
    assert "greyed" not in mail.words and "your-group" not in mail.naming and "acme-two" in mail.own
    assert "greyed" in mail.agent[-1]


@pytest.mark.parametrize("header, agent", [
    ("On Mon, Dec 1, 2026, Acme IT Support <it-support@acme.example> wrote:", False),
    ("On Mon, Dec 1, 2026, Soporte de Acme <soporte@acme.example> wrote:", False),
    ("On Mon, Dec 1, 2026, GitLab <noreply@gitlab.com> wrote:", False),
    ("On Mon, Dec 1, 2026, Ann Lee <alee@gitlab.com> wrote:", True),
    ("On Mon, Dec 1, 2026, Soporte GitLab <help@gitlab.zendesk.example> wrote:", True),
])
def test_a_quoted_mail_is_an_agents_only_when_it_comes_from_gitlab(header, agent):
    mail = read_mail(f"See below.\n\n{header}\n> The group is gitlab.com/acme-ops\n")
    assert ("acme-ops" in "".join(mail.agent)) is agent
    assert ("acme-ops" in mail.naming) is not agent


def test_lines_quoted_without_a_header_are_not_the_customers_words():
    mail = read_mail("> Is the group greyed out?\nNo, it just is not in the list.")
    assert "greyed" not in mail.own and "not in the list" in mail.own
    assert "greyed" in mail.quoted[0]


def test_html_is_read_as_text_with_links_blocks_and_quotes():
    html = ("<html><head><style>p{color:red}</style><title>t</title></head><body>"
            "<p>Hi&nbsp;there,</p><p>our group <a href=\"https://gitlab.com/bodensee-cloud\">bodensee-cloud</a>"
            " is &quot;greyed out&quot;.</p><div>Jo<br><a href=\"mailto:jo@b.example.de\">jo@b.example.de</a></div>"
            "<div class=\"gmail_quote\">On Mon, Nov 30, 2026, GitLab Support &lt;support@gitlab.com&gt; wrote:"
            "<blockquote>Is it 502?</blockquote></div></body></html>")
    text = html_text(html)
    assert "color" not in text and "\nt\n" not in text
    assert 'our group bodensee-cloud (https://gitlab.com/bodensee-cloud) is "greyed out".' in text
    assert text.count("jo@b.example.de") == 1 and "> Is it 502?" in text
    mail = read_mail(html)
    assert "502" not in mail.words and "greyed out" in mail.words and "Is it 502?" in mail.agent[0]


def test_a_plain_mail_holding_angle_brackets_or_pasted_html_is_not_read_as_html():
    text = "It shows this:\n<html><h1>502 Bad Gateway</h1></html>\nFrom GitLab <noreply@gitlab.com>"
    assert read_mail(text).whole == text


def test_a_long_line_that_starts_like_a_header_is_read_in_full():
    # The library's header patterns are cubic on such a line; it never sees it whole.
    line = "On " + "a b " * 30_000
    mail = read_mail(f"The group is greyed out.\n{line}\nA-S00000001")
    assert mail.own.endswith("A-S00000001") and line.strip() in mail.own
    assert len(line) > LINE_LIMIT


def test_beyond_the_read_limit_the_text_belongs_to_the_last_fragment():
    text = "Help.\n\nOn Mon, Ann <ann@example.com> wrote:\n> " + "x " * READ_LIMIT + " gitlab.com/late-group"
    mail = read_mail(text)
    assert mail.own.strip() == "Help." and mail.quoted[-1].endswith("gitlab.com/late-group")


def test_triage_reads_the_customers_words_and_every_identifier():
    description = ("Yes, I'm the Owner. The group is gitlab.com/lumen-ops\n\n"
                   "On Wed, 2 Dec 2026, GitLab Support <support@gitlab.com> wrote:\n"
                   "> Is the group greyed out? Do you see a 502? e.g. gitlab.com/groups/example-group\n"
                   "> I see A-S00000007 on your account.\n")
    findings = triage(TicketText("Subscription not visible on group", description))
    assert findings.category != "namespace_taken" and findings.category != "portal_502"
    subscriptions, namespaces, emails, _ = extract(TicketText("", description))
    assert subscriptions == ("A-S00000007",) and namespaces == ("lumen-ops",)
    assert emails == ("support@gitlab.com",)
