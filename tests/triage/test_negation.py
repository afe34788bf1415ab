"""A cue the customer denies does not count (workflows/triage/negation.py); examples of our
own in the six languages, not the corpus's."""
from __future__ import annotations

import pytest

from workflows.triage import TicketText, triage
from workflows.triage.negation import negated
from workflows.triage.text import _fold

BOUGHT = "We bought Premium A-S00000001 for gitlab.com/acme. "


def category(description: str) -> str:
    return triage(TicketText("Subscription", description)).category


def cue_negated(sentence: str, cue: str) -> bool:
    text = _fold(sentence)
    start = text.index(_fold(cue))
    return negated(text, start, start + len(_fold(cue)))


@pytest.mark.parametrize("sentence, cue", [
    ("The group is NOT greyed out.", "greyed out"),
    ("It isn't greyed out at all", "greyed out"),
    ("the group was never shown as greyed out", "greyed out"),
    ("Die Gruppe ist nicht ausgegraut.", "ausgegraut"),
    ("No, el grupo no está atenuado.", "atenuado"),
    ("le groupe n'est pas grisé", "grisé"),
    ("Não, o grupo não está acinzentado;", "acinzentado"),
    ("グループはグレーアウトしていません。", "グレーアウト"),
    ("グレーアウトはしていない", "グレーアウト"),
    ("I don't get a 502 any more", "502"),
])
def test_a_negation_near_the_cue_denies_it(sentence, cue):
    assert cue_negated(sentence, cue)


@pytest.mark.parametrize("sentence, cue", [
    ("We cannot link it because the group is greyed out", "greyed out"),
    ("Not sure why, but the group is greyed out", "greyed out"),
    ("I could not find any help. The group is greyed out", "greyed out"),
    ("o grupo aparece acinzentado no portal", "acinzentado"),
    ("o grupo no portal aparece acinzentado", "acinzentado"),
    ("グループがグレーアウトしていて選択できません", "グレーアウト"),
    ("Still 502 after a minute", "502"),
])
def test_a_negation_elsewhere_or_a_look_alike_does_not(sentence, cue):
    assert not cue_negated(sentence, cue)


@pytest.mark.parametrize("denial", [
    "The group is not greyed out, I can select it, but it still shows Free.",
    "Die Gruppe ist nicht ausgegraut, aber das Abo wird nicht angezeigt.",
    "El grupo no está atenuado, pero la suscripción no aparece.",
    "Le groupe n'est pas grisé, mais l'abonnement n'apparaît pas.",
    "O grupo não está acinzentado, mas a assinatura não aparece.",
    "グループはグレーアウトしていません。サブスクリプションが表示されない。",
])
def test_a_denied_greyed_out_group_is_not_namespace_taken(denial):
    assert category(BOUGHT + denial) == "associate_subscription"


def test_a_denied_cue_still_counts_where_the_customer_says_it_later():
    assert category(BOUGHT + "Yesterday it was not greyed out. Today the group is greyed out.") == \
        "namespace_taken"


def test_a_denied_502_is_not_portal_502():
    text = BOUGHT + "In the customers portal I select the group, no 502 error, it just still shows Free."
    assert category(text) == "associate_subscription"
