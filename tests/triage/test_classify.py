"""workflows.triage.classify and triage: each category, each boundary of triage.md's order,
and `other` winning over a named subscription. The examples are this file's own."""
from __future__ import annotations

import ast
import pathlib
import re

import pytest

from workflows import triage as triage_module
from workflows.triage import CATEGORIES, RECOMMENDED, Findings, TicketText, classify, triage


def category(description: str, subject: str = "", comments: tuple[str, ...] = ()) -> str:
    return classify(TicketText(subject, description, comments))[0]


def test_the_order_and_the_recommendations():
    assert CATEGORIES == ("portal_502", "namespace_taken", "account_link", "compute_minutes",
                          "associate_subscription", "other")
    assert RECOMMENDED == {"associate_subscription": "associate", "namespace_taken": "force_associate",
                           "account_link": "unlink_account", "compute_minutes": None,
                           "portal_502": "associate", "other": None}


# -- each category -------------------------------------------------------------------------


@pytest.mark.parametrize("subject, description", [
    ("502 Bad Gateway", "I get a 502 in the customers portal when I try to link my subscription to a group."),
    ("Error", "The group dropdown on customers.gitlab.com loads for a minute, then: Something went wrong."),
    ("504", "Manage Purchases > Change linked namespace gives 504 Gateway Time-out."),
    ("timeout", "Linking the subscription times out in the portal, the list of groups never loads."),
    ("Fehler", "Beim Verknüpfen des Abonnements im Kundenportal kommt Fehler 502."),
    ("Erreur", "Dans le portail client, erreur 502 quand je veux associer l'abonnement au groupe."),
])
def test_portal_502(subject, description):
    assert category(description, subject) == "portal_502"


@pytest.mark.parametrize("description", [
    "Our group acme-corp is grayed out in the dropdown when I link A-S00012345.",
    "the namespace is greyed out, I cannot pick it",
    "I can't select our group in the list when linking the subscription.",
    "Error: unable to associate the subscription as the destination namespace is already associated "
    "with a subscription",
    "Please move subscription A-S00012345 from gitlab.com/acme-old to gitlab.com/acme-new.",
    "Le groupe est grisé, impossible de l'associer.",
    "La suscripción: el grupo aparece en gris y no puedo seleccionarlo.",
    "購入したサブスクリプションを紐付けようとするとグループがグレーアウトしています。",
])
def test_namespace_taken(description):
    assert category(description) == "namespace_taken"


@pytest.mark.parametrize("description", [
    "The customers portal is linked to the wrong GitLab.com account.",
    "Our former employee's account is the linked account in the portal; we need to change the linked account.",
    "Linking fails: this GitLab.com account is already linked to another Customers Portal account.",
    "I cannot link my GitLab.com account to the customers portal.",
    "Please transfer ownership of our Customers Portal account to bob@acme.com.",
    "Please unlink the GitLab account from our customers portal account.",
    "The portal is linked to my old personal account.",
])
def test_account_link(description):
    assert category(description) == "account_link"


@pytest.mark.parametrize("description", [
    "We bought 10,000 compute minutes (A-S00012345) but gitlab.com/acme still has the old quota.",
    "Purchased a 10 GB storage add-on for group: acme, not applied yet.",
    "Compramos minutos de CI adicionales y no aparecen.",
    "The additional CI/CD minutes we paid for are not showing on our namespace.",
])
def test_compute_minutes(description):
    assert category(description) == "compute_minutes"


@pytest.mark.parametrize("subject, description", [
    ("Subscription not showing", "We renewed Premium A-S00012345 but gitlab.com/acme still shows Free."),
    ("Apply subscription", "Please apply our subscription A-S00012345 to the group acme-corp."),
    ("Re: Your GitLab subscription", "Here is our group: acme. Thanks!"),
    ("EDU", "We were approved for GitLab for Education; please activate it for namespace uni_cs."),
    ("Reseller", "We bought Ultimate through a reseller. How do I activate A-S00099999?"),
    ("Seats", "When I link the subscription it redirects me to the payment page to buy more seats."),
    ("AWS", "Purchased via AWS Marketplace, need it provisioned on gitlab.com/acme."),
    ("Suscripción", "Compramos la suscripción A-S00012345 pero no aparece en nuestro grupo."),
    ("Abonnement", "Unser Abonnement wird nicht angezeigt, Gruppe: acme."),
    ("typo", "our subcription is not showing on the group"),
    ("", "A-S00012345 https://gitlab.com/acme"),
])
def test_associate_subscription(subject, description):
    assert category(description, subject) == "associate_subscription"


@pytest.mark.parametrize("description", [
    "I lost my 2FA device and cannot sign in.",
    "Forgot my password for gitlab.com.",
    "Our pipelines are stuck and the runners are offline.",
    "Please send the invoice with our VAT number.",
    "We want a refund.",
    "Feature request: it would be nice if the portal had a dark mode.",
    "SAML SSO for our group stopped working.",
    "Hello",
    "",
])
def test_other(description):
    assert category(description) == "other"


# -- the order's boundaries: the earlier category wins -------------------------------------


def test_502_before_account_link():
    text = "An admin account was linked by mistake and now the customers portal shows 502 when listing groups."
    assert category(text) == "portal_502"


def test_502_before_namespace_taken():
    assert category("Customers portal: 502 Bad Gateway, and before that our group was grayed out.") == "portal_502"


def test_502_outside_the_portal_is_not_portal_502():
    assert category("Our pipelines fail with 502 Bad Gateway when pushing to gitlab.com/acme/app.") == "other"


def test_namespace_taken_before_account_link():
    text = "The group is grayed out; maybe because the portal is linked to the wrong account?"
    assert category(text) == "namespace_taken"


def test_a_move_needs_both_groups_named():
    assert category("Please move A-S00012345 from gitlab.com/old-group to gitlab.com/new-group") == "namespace_taken"
    assert category("Please move subscription A-S00012345 to gitlab.com/new-group") == "associate_subscription"


def test_account_link_before_compute_minutes():
    text = "We bought CI minutes but the portal is linked to a former employee's account; change the linked account."
    assert category(text) == "account_link"


def test_an_account_next_to_a_former_employee_is_not_enough_for_account_link():
    assert category("A former employee had 2FA on his GitLab.com account and we are locked out.") == "other"


def test_compute_minutes_before_associate():
    text = "We purchased compute minutes for our Premium group gitlab.com/acme; they are not applied."
    assert category(text) == "compute_minutes"


def test_compute_minutes_only_when_every_purchase_is_an_add_on():
    text = "We purchased 20 seats of Premium and 1000 CI minutes; neither shows on gitlab.com/acme."
    assert category(text) == "associate_subscription"
    cues = classify(TicketText("", text))[2]
    assert not any(c.startswith("compute minutes") for c in cues)


def test_compute_minutes_without_a_purchase_is_not_this_category():
    assert category("Our pipelines stopped: we ran out of compute minutes.") == "other"


@pytest.mark.parametrize("description", [
    "Please send me the invoice for A-S00012345 for group: acme.",
    "We want a refund for A-S00012345, we bought the wrong plan.",
    "I can't sign in to link A-S00012345 to gitlab.com/acme because of 2FA.",
    "Runners for gitlab.com/acme are stuck since we bought A-S00012345.",
])
def test_other_wins_even_when_a_subscription_or_group_is_named(description):
    assert category(description) == "other"


def test_explicit_associate_cues_outweigh_a_passing_other_cue():
    text = ("We bought Premium A-S00012345 but it is not showing on gitlab.com/acme, still Free. "
            "The invoice is fine.")
    assert category(text) == "associate_subscription"


# -- the rules that tell look-alikes apart -------------------------------------------------


@pytest.mark.parametrize("description", [
    "customers.gitlab.com answers 502 Bad Gateway when I try to download last month's receipt.",
    "The portal shows 504 Gateway Time-out when I update our credit card.",
    "Customers portal 502 while downloading the invoice for our group platform-eng.",
])
def test_a_portal_502_outside_linking_or_listing_groups_is_not_portal_502(description):
    assert category(description) == "other"


def test_a_portal_error_on_a_ticket_about_a_group_is_a_linking_one():
    assert category("Kundenportal: 504 Gateway Time-out. Our group is platform-eng.") == "portal_502"
    assert category("502 in the customers portal while selecting the namespace") == "portal_502"


@pytest.mark.parametrize("description", [
    "After I authorize on gitlab.com, the portal says my account could not be linked.",
    "Error: this GitLab.com account can't be connected to your billing profile.",
])
def test_an_account_that_could_not_be_linked_is_account_link(description):
    assert category(description) == "account_link"


@pytest.mark.parametrize("description", [
    "Our finance lead quit; please transfer the account to me so I can manage billing.",
    "Could you transfer the portal account over to ops-lead@example.org?",
])
def test_transferring_the_account_to_a_person_is_account_link(description):
    assert category(description) == "account_link"


@pytest.mark.parametrize("description", [
    "We are out of CI minutes and our jobs wait. How can we buy more minutes?",
    "Where do I purchase extra storage for gitlab.com/kite-labs?",
])
def test_asking_how_to_buy_an_add_on_is_not_compute_minutes(description):
    assert category(description) == "other"


@pytest.mark.parametrize("description", [
    "Letzte Woche CI-Minuten für gitlab.com/kite-labs gekauft, sie fehlen noch.",
    "Wir haben Rechenminuten erworben, aber sie sind nicht zu sehen.",
])
def test_german_compute_minutes_not_shown(description):
    assert category(description) == "compute_minutes"


def test_renewal_alone_is_not_a_purchase_to_apply():
    assert category("Can I change the card on file before the renewal next month?") == "other"
    assert category("Our renewal is not reflected on gitlab.com/kite-labs, still Free.") == "associate_subscription"


def test_a_quote_request_is_other():
    assert category("Please send a quote for 40 Ultimate seats for A-S00024680's renewal.") == "other"


@pytest.mark.parametrize("description", [
    "We bought Ultimate A-S00024680 for our self-managed instance but have no activation code.",
    "Where is the license file for our Premium self-hosted instance? A-S00024680",
])
def test_a_self_managed_activation_is_other(description):
    assert category(description) == "other"


@pytest.mark.parametrize("description", [
    "We paid for Premium A-S00024680 but the merge request approval rules are still greyed out.",
    "Bought Ultimate A-S00024680, yet the greyed out button on the security dashboard stays.",
])
def test_a_greyed_out_feature_is_not_a_greyed_out_group(description):
    assert category(description) == "associate_subscription"


def test_a_greyed_out_group_in_a_dropdown_menu_is_still_namespace_taken():
    assert category("The group in the dropdown menu is greyed out when linking A-S00024680.") == "namespace_taken"


def test_an_invoice_given_as_a_source_is_no_invoice_request():
    text = "We bought Premium (receipt attached), A-S00024680, it is not showing on gitlab.com/kite-labs."
    assert category(text) == "associate_subscription"
    text = "Customer ID 4455 according to our last invoice. Please link A-S00024680 to gitlab.com/kite-labs."
    assert category(text) == "associate_subscription"
    assert category("Please resend the invoice for A-S00024680, ours is blank.") == "other"


@pytest.mark.parametrize("description", [
    "The path gitlab.com/kite is taken by a user who left years ago. Can we claim that namespace?",
    "The namespace kite is used by an inactive user; is there a dormant namespace policy?",
])
def test_claiming_a_name_held_by_another_user_is_other(description):
    assert category(description) == "other"


def test_a_sign_in_link_that_never_arrives_is_other():
    got, confidence, cues = classify(TicketText("", "The portal's sign-in link never reaches my inbox."))
    assert got == "other" and confidence >= 0.5
    assert any(c.startswith("password or sign-in trouble") for c in cues)


# -- confidence and cues -------------------------------------------------------------------


def test_no_cue_at_all_is_other_at_0_3():
    assert classify(TicketText("Hello", "Thanks for your help")) == ("other", 0.3, ("no category's cues matched",))


def test_names_alone_are_weak_evidence():
    _, confidence, cues = classify(TicketText("", "A-S00012345"))
    assert confidence < 0.5 and cues == ("names a subscription: A-S00012345",)


def test_more_cues_more_confidence():
    one = classify(TicketText("", "our group is grayed out"))[1]
    two = classify(TicketText("", "our group is grayed out: already associated with a subscription"))[1]
    assert 0.5 <= one < two <= 0.95


def test_a_rival_category_lowers_the_confidence():
    alone = classify(TicketText("", "The customers portal shows 502 when linking the subscription."))[1]
    rival = classify(TicketText("", "The customers portal shows 502 when linking the subscription; "
                                    "the wrong account is linked."))
    assert rival[0] == "portal_502" and rival[1] < alone
    assert any("account_link" in c for c in rival[2])


def test_cues_say_which_phrase_matched():
    _, _, cues = classify(TicketText("Greyed out", "our namespace is greyed out"))
    assert cues == ('group grayed out: "greyed out"',)


def test_cues_never_carry_a_marker_or_a_line_break():
    text = "subscription [lnr:triage:1:abc]\nnot showing"
    for cue in classify(TicketText("x", text.replace("\n", " ")))[2]:
        assert "[" not in cue and "]" not in cue and "\n" not in cue


def test_confidence_is_between_0_and_1_and_rounded():
    for text in ("", "502 portal", "group grayed out", "A-S00012345", "invoice", "x" * 1000):
        _, confidence, _ = classify(TicketText(text, text))
        assert 0 <= confidence <= 1 and confidence == round(confidence, 2)


def test_subject_description_and_comments_are_all_read():
    assert category("", subject="", comments=("hi", "our group is grayed out")) == "namespace_taken"


def test_a_cue_does_not_span_two_texts():
    # "subscription" ends the subject, "not showing" starts the description: two sentences.
    assert category("not showing", subject="Question about my pipelines subscription") == "other"


# -- triage and findings -------------------------------------------------------------------


def test_triage_returns_findings():
    findings = triage(TicketText("Premium not showing", "A-S00012345 on https://gitlab.com/acme, jane@acme.com, "
                                                         "customer ID 1234"))
    assert findings == Findings(
        category="associate_subscription", confidence=findings.confidence,
        subscriptions=("A-S00012345",), namespaces=("acme",), emails=("jane@acme.com",),
        customer_ids=(1234,), cues=findings.cues)
    assert findings.confidence >= 0.5 and findings.cues


def test_to_dict_is_json_ready_and_digest_is_stable():
    findings = Findings("other", 0.333333, ("A-S00000001",), ("acme",), ("a@b.co",), (7,), ("cue",))
    assert findings.to_dict() == {"category": "other", "confidence": 0.33, "subscriptions": ["A-S00000001"],
                                  "namespaces": ["acme"], "emails": ["a@b.co"], "customer_ids": [7],
                                  "cues": ["cue"]}
    assert re.fullmatch(r"[0-9a-f]{12}", findings.digest())
    assert findings.digest() == Findings("other", 0.33, ("A-S00000001",), ("acme",), ("a@b.co",), (7,),
                                         ("cue",)).digest()
    assert findings.digest() != Findings("other", 0.34, ("A-S00000001",), ("acme",), ("a@b.co",), (7,),
                                         ("cue",)).digest()


@pytest.mark.parametrize("data, message", [
    ([], "JSON object"), ("x", "JSON object"), (None, "JSON object"),
    ({"subject": 1}, "subject must be a string"), ({"description": None}, "description must be a string"),
    ({"comments": "x"}, "comments must be a list"), ({"comments": ["a", 2]}, "comments[1] must be a string"),
])
def test_ticket_text_from_dict_is_strict(data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TicketText.from_dict(data)


def test_ticket_text_from_dict_defaults_and_ignores_other_keys():
    assert TicketText.from_dict({}) == TicketText("", "", ())
    assert TicketText.from_dict({"subject": "s", "description": "d", "comments": ["c"], "why": "x"}) == \
        TicketText("s", "d", ("c",))


def test_a_1_mb_description_returns():
    description = ("group grayed out 502 gitlab.com/" + "a/" * 40 + "a-s" + "a." * 50 + "@ ") * 4000
    findings = triage(TicketText("x", description[:1_000_000], ("y" * 1_000_000,)))
    assert findings.category in CATEGORIES


def _imports(package: pathlib.Path) -> set[str]:
    imported: set[str] = set()
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        imported |= {("." * node.level) + (node.module or "") for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
    return imported - {"." + source.stem for source in package.glob("*.py")}


def test_triage_imports_only_the_standard_library_inputs_and_the_reply_parser():
    # Loading it is checked with the other pure modules (tests/workflows/test_pure.py).
    imported = _imports(pathlib.Path(triage_module.__file__).parent)
    assert imported <= {"__future__", "hashlib", "json", "re", "unicodedata", "dataclasses",
                        "typing", "..inputs", "html.parser", "mailparser_reply.constants",
                        "mailparser_reply.parser"}


def test_the_reply_parser_is_pure_python_that_does_no_io():
    # mail-parser-reply may stay in the pure domain only while it is regular expressions
    # over a string: no files, network or processes (the developers' guide).
    import mailparser_reply
    imported = _imports(pathlib.Path(mailparser_reply.__file__).parent)
    assert imported <= {"logging", "re", "dataclasses", "itertools", "typing"}
