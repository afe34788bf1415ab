"""Numbers that are not what they look like (issue 18, item 3): quote, invoice, order, Zuora
and phone numbers and street addresses are never subscriptions, namespaces, customer ids or
a 502. Examples of our own, not the corpus's."""
from __future__ import annotations

import pytest

from workflows.triage import TicketText, extract, triage
from workflows.triage.numbers import number_part
from workflows.triage.text import _fold

REQUEST = "We bought Premium A-S00000001, please apply it to https://gitlab.com/acme in the portal. "
NUMBERS = [
    "Order #502-88431", "PO 7788-502", "wire 502-7781", "Invoice No. 502", "Quote 502",
    "Direct: +1 (415) 502-7734", "Tel: +1 302 502 0190", "Tel. 06131 502 44 10",
    "502 Howard Street, Suite 300", "502 Boylston St, Boston", "Suite 502", "Calle 502 # 12-34",
    "Av. Corrientes 502, CABA", "Rua Augusta, 502", "Hauptstraße 502, 20095 Hamburg",
    "Rheinallee 502 · 55118 Mainz", "Gran Vía 502, Madrid", "502, avenue Jean Jaurès",
    "pedido nº 502-9932", "Référence commande n° 502-1188", "クロスタワー502号室",
]
ERRORS = [
    "I get a 502 when the group list loads", "Still 502 Bad Gateway", "error 502 al vincular",
    "502 エラーになります", "it shows 502 after a minute", "a 502 via the API", "HTTP 502 from the portal",
    "sehr oft 502 im Kundenportal", "during the 502 the page", "monitoring shows 502 errors",
]


def at_502(sentence: str) -> bool:
    text = _fold(sentence)
    start = text.index("502")
    return number_part(text, start, start + 3)


@pytest.mark.parametrize("sentence", NUMBERS)
def test_a_502_in_an_order_phone_or_address_is_part_of_that_number(sentence):
    assert at_502(sentence)


@pytest.mark.parametrize("sentence", ERRORS)
def test_a_502_error_is_no_other_number(sentence):
    assert not at_502(sentence)


@pytest.mark.parametrize("number", NUMBERS)
def test_a_ticket_whose_only_502_is_such_a_number_is_not_portal_502(number):
    # Inline, not in a signature: the number alone must not make it a 502 error.
    findings = triage(TicketText("Subscription not showing", REQUEST + f"Our reference: {number}."))
    assert findings.category == "associate_subscription"


def test_a_502_error_beside_an_address_is_still_portal_502():
    text = ("In the customers portal the group list gives a 502 Bad Gateway when I link A-S00000001.\n"
            "Jo, 502 Market Street, Tel +1 415 502 7734")
    assert triage(TicketText("Error", text)).category == "portal_502"
