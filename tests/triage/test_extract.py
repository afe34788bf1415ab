"""workflows.triage.extract: subscriptions, namespaces, emails and customer ids (triage.md,
"Extraction"). Examples are this file's own; the labelled corpus is never read here."""
from __future__ import annotations

import pytest

from workflows.triage import MAX_TEXT, TicketText, extract


def found(description: str, subject: str = "", comments: tuple[str, ...] = ()):
    subscriptions, namespaces, emails, customer_ids = extract(TicketText(subject, description, comments))
    return {"subscriptions": subscriptions, "namespaces": namespaces, "emails": emails,
            "customer_ids": customer_ids}


def namespaces(description: str) -> tuple[str, ...]:
    return found(description)["namespaces"]


# -- subscriptions ---------------------------------------------------------------------------


def test_the_issues_subscription_example():
    assert found("a-s00771204")["subscriptions"] == ("A-S00771204",)


@pytest.mark.parametrize("text", ["(A-S00012345)", "#a-S00012345.", "sub:A-s00012345,", "'A-S00012345'",
                                  "  A-S00012345\n", "A‐S00012345"])
def test_subscriptions_with_or_without_punctuation_around(text):
    assert found(text)["subscriptions"] == ("A-S00012345",)


def test_subscriptions_are_deduplicated_in_order_of_first_appearance():
    got = found("A-S00000002 then a-s00000001 and A-S00000002 again", subject="about A-S00000003",
                comments=("also a-s00000001 and A-S00000004",))
    assert got["subscriptions"] == ("A-S00000003", "A-S00000002", "A-S00000001", "A-S00000004")


@pytest.mark.parametrize("text", ["A-S0001234", "A-S000123456", "XA-S00012345", "data-s00012345", "AS00012345"])
def test_not_a_subscription_name(text):
    assert found(text)["subscriptions"] == ()


def test_full_width_characters_are_read_as_ascii():
    assert found("Ａ－Ｓ００７７１２０４")["subscriptions"] == ("A-S00771204",)


# -- namespaces from URLs ------------------------------------------------------------------


def test_the_issues_namespace_example():
    assert namespaces("https://gitlab.com/groups/acme/platform/-/billings") == ("acme/platform",)


@pytest.mark.parametrize("text, expected", [
    ("https://gitlab.com/acme", "acme"),
    ("http://gitlab.com/acme/", "acme"),
    ("gitlab.com/acme", "acme"),
    ("see gitlab.com/acme.", "acme"),
    ("https://www.gitlab.com/acme-corp", "acme-corp"),
    ("www.gitlab.com/groups/acme_ops/", "acme_ops"),
    ("https://GitLab.com/Acme/Sub.Team", "Acme/Sub.Team"),
    ("<https://gitlab.com/acme/dev/>", "acme/dev"),
    ("[billing](https://gitlab.com/groups/acme/-/billings)", "acme"),
    ("https://gitlab.com/acme/backend/-/jobs/1", "acme/backend"),
    ("https://gitlab.com/acme/backend/-/merge_requests/3#note_1", "acme/backend"),
    ("https://gitlab.com/acme/backend.git", "acme/backend"),
    ("git@gitlab.com:acme/backend.git", "acme/backend"),
    ("https://gitlab.com/acme/backend/issues/4", "acme/backend"),
    ("https://gitlab.com/acme?tab=overview", "acme"),
    # GitLab's own groups are paths too (triage.md: a project URL yields the path before /-/);
    # diagnose finds out whether a path is the customer's.
    ("https://gitlab.com/gitlab-org/gitlab/-/issues/1234", "gitlab-org/gitlab"),
    ("see gitlab.com/gitlab-com/support/-/issues/9", "gitlab-com/support"),
])
def test_namespace_urls(text, expected):
    assert namespaces(text) == (expected,)


@pytest.mark.parametrize("text", [
    "https://gitlab.com/users/sign_in", "https://gitlab.com/-/profile/billings", "gitlab.com/dashboard/groups",
    "https://gitlab.com/explore", "https://gitlab.com/help/user/index.md", "https://gitlab.com/admin/users",
    "https://gitlab.com/subscriptions/new", "https://gitlab.com/groups/new", "https://gitlab.com/search?q=x",
    "https://gitlab.com/",
])
def test_gitlab_routes_that_are_no_namespace_are_ignored(text):
    assert namespaces(text) == ()


@pytest.mark.parametrize("text", [
    "https://gitlab.acme.com/groups/platform",  # self-managed
    "https://about.gitlab.com/pricing/", "https://customers.gitlab.com/subscriptions",
    "https://docs.gitlab.com/user/group/", "https://mygitlab.com/acme", "https://gitlab.com.evil.example/acme",
    "https://github.com/acme/app", "https://www.linkedin.com/in/jane-doe",
    "Jane Doe | Acme Corp | https://www.acme.com | jane@gitlab.com",
])
def test_other_hosts_signatures_and_email_domains_are_no_namespace(text):
    assert namespaces(text) == ()


# -- namespaces in words -------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("our group 'acme'", "acme"),
    ('the group "acme" is not premium', "acme"),
    ("our group “acme”", "acme"),
    ("namespace acme_ops", "acme_ops"),
    ("group: acme", "acme"),
    ("Group : Acme", "Acme"),
    ("group path is acme/dev", "acme/dev"),
    ("namespace name: acme-corp.", "acme-corp"),
    ("a group called acme", "acme"),
    ("the 'acme' group", "acme"),
    ("Gruppe: acme", "acme"),
    ("grupo: acme", "acme"),
    # in brackets after the word, read like a bare name: kept when it looks like a path
    ("only my personal namespace (kim-sandbox) is listed", "kim-sandbox"),
    ("the group (acme_ops) is missing", "acme_ops"),
])
def test_namespaces_named_in_words(text, expected):
    assert namespaces(text) == (expected,)


@pytest.mark.parametrize("text", [
    "our group is grayed out", "the namespace is not showing", "group of 40 users", "the group owner",
    "the top-level group", "namespace: A-S00012345", "group: jane@acme.com", "group acme",
    "group's billing page", "group: https://gitlab.acme.com/platform", "group: gitlab.acme.com/platform",
    "subgroups", "sub-group acme",
    # a bracket is no quote: the apostrophe of "I'm" closes nothing
    "our group (Maintainer)", "the namespace (acme) is", "member of many groups (I'm in 300)",
    "owner of a lot of groups (we're a consultancy)",
])
def test_words_that_name_no_namespace(text):
    assert namespaces(text) == ()


@pytest.mark.parametrize("text, expected", [
    # each language's way of introducing a name, and its quotation marks (issue 18, item 2)
    ("Unsere Gruppe heißt „brandt-it“ und ist ausgegraut", "brandt-it"),
    ("die Gruppe »werk7« fehlt", "werk7"),
    ("la Gruppe lautet kern", "kern"),
    ("Nuestro grupo se llama «logistica» y no aparece", "logistica"),
    ("el grupo «tres-rios» está atenuado", "tres-rios"),
    ("notre groupe « atelier » est grisé", "atelier"),
    ("le groupe s'appelle lumiere", "lumiere"),
    ("O grupo se chama “arara” e não aparece", "arara"),
    ("o grupo chamado ipe é nosso", "ipe"),
    ("グループ名：kumo-dev", "kumo-dev"),
    ("グループ名: kumo", "kumo"),
    ("「hoshi」というグループに適用してください", "hoshi"),
    ("新しいグループ「tsuki-platform」へ移動", "tsuki-platform"),
    ("『mizu』のグループ", "mizu"),
    ("my personal namespace jdoe instead of the group", "jdoe"),
])
def test_namespaces_named_in_the_six_languages(text, expected):
    assert namespaces(text) == (expected,)


@pytest.mark.parametrize("text", [
    # a word is a namespace only where the text names it as a group (issue 18, item 3)
    "we have the group 2FA enforcement switched on", "the namespace SAML2 settings", "group SHA256 keys",
    "in the group IPv6 allowlist", "Gruppe 2 fehlt", "la Gruppe ist ausgegraut", "el grupo se ve gris",
    "my personal namespace instead of the group", "the namespace already has a subscription",
    "grupo no portal", "グループがグレーアウト",
])
def test_a_setting_or_a_word_of_the_sentence_is_no_namespace(text):
    assert namespaces(text) == ()


@pytest.mark.parametrize("text", [
    "Order #502-88431", "PO 4500123456", "Quote Q-88123", "Invoice INV-00502118", "Zuora account A00502118",
    "Tel +1 (415) 502-7734", "502 Howard Street, Suite 300", "VAT DE502118845", "pedido nº 502-9932",
    "Rechnung 4500502211", "devis n° D-2026-0502", "〒150-0002 東京都渋谷区渋谷2-15-1 502号室",
    "Our customer number for Kestrel is 100234", "Unsere Kundennummer für Optik: 88213",
])
def test_numbers_of_other_kinds_are_no_subscription_namespace_or_customer_id(text):
    assert found(text) == {"subscriptions": (), "namespaces": (), "emails": (), "customer_ids": ()}


def test_a_namespace_in_a_url_and_in_words_counts_once_case_insensitively():
    assert namespaces("group: acme, https://gitlab.com/ACME and https://gitlab.com/groups/acme/-/billings") == ("acme",)


def test_namespaces_keep_the_order_subject_description_comments():
    got = found("https://gitlab.com/second", subject="group: first", comments=("gitlab.com/third", "gitlab.com/first"))
    assert got["namespaces"] == ("first", "second", "third")


def test_namespaces_in_one_text_keep_their_order_whatever_their_form():
    assert namespaces("namespace acme_ops, then https://gitlab.com/beta, then group: gamma") == (
        "acme_ops", "beta", "gamma")


# -- emails and customer ids ---------------------------------------------------------------


def test_every_email_lower_cased_and_deduplicated():
    got = found("From: Jane.Doe@Acme.COM\nCc: bob+lnr@mail.acme.co.uk, jane.doe@acme.com: see below.",
                comments=("Reply to <ops@acme.io>",))
    assert got["emails"] == ("jane.doe@acme.com", "bob+lnr@mail.acme.co.uk", "ops@acme.io")


@pytest.mark.parametrize("text", ["git@gitlab.com:acme/app.git", "cid:image001.png@01D9A1B2.3C4D5E60",
                                  "jane@localhost", "@acme.com"])
def test_not_an_email(text):
    assert found(text)["emails"] == ()


@pytest.mark.parametrize("text, expected", [
    ("customer ID 123456", (123456,)),
    ("Customer #884213", (884213,)),
    ("customer id: 42", (42,)),
    ("Customers Portal account number 777", (777,)),
    ("portal customer 31337", (31337,)),
    ("Kunden-ID 5550", (5550,)),
    ("número de cliente 9001", (9001,)),
    ("customer ID 1, customer #2, customer ID 1", (1, 2)),
])
def test_customer_ids_written_as_such(text, expected):
    assert found(text)["customer_ids"] == expected


@pytest.mark.parametrize("text", ["ticket #123456", "order 884213", "we are a customer since 2019",
                                  "customer ID 0", "customer id 99999999999999999999", "invoice #12345",
                                  "customer identity 12"])
def test_numbers_that_are_no_customer_id(text):
    assert found(text)["customer_ids"] == ()


# -- limits --------------------------------------------------------------------------------


def test_text_beyond_max_text_is_not_read():
    padding = "x" * (MAX_TEXT - len("A-S00000001 "))
    got = found(padding + " A-S00000002", subject="A-S00000001 ", comments=("A-S00000003",))
    assert got["subscriptions"] == ("A-S00000001",)


def test_a_1_mb_description_returns():
    hostile = ("gitlab.com/" + "a/" * 50 + " group: " + "a." * 100 + "@" + "a-s" * 20 + "customer #") * 2000
    got = found(hostile[:1_000_000])
    assert isinstance(got["namespaces"], tuple)
