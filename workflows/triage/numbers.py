"""Numbers that are not what they look like (issue 18): the 502 of an order, a phone, a
street or a room is no 502 error.

Run on folded text (`text._fold`: lower case, no Latin accents, whitespace collapsed, so a
signature's lines run together). A number belongs to something else when it is part of a
longer number (`502-7734`, `+1 302 502 0190`, `7788-502`), when a label of such numbers
stands right before it (order, PO, invoice, quote, ticket, phone, suite, `nº`, `#`...), or
when a street word stands next to it (`502 Market Street`, `Calle 502`, `Hauptstraße 502`,
`Rua Augusta, 502`, `502号室`).
"""
from __future__ import annotations

import re

_LABEL = (r"(?:orders?|order (?:no|nr|number|id)|po|p\.o|purchase order|invoices?|inv|rechnung|"
          r"bestell(?:ung|nummer|nr)?|auftrag|pedido|commande|ordem|encomenda|factura|facture|fatura|"
          r"quotes?|angebot|cotizacion|devis|orcamento|preventivo|ticket|case|ref|reference|referencia|"
          r"nr|no\.|n°|nº|n\.o|numero|nummer|number|tel|tel\.|phone|fax|mobile|cell|telefono|telefone|"
          r"direct|wire|transfer|vat|ust-?idnr|cnpj|siret|zip|plz|cep|suite|room|floor|apt|unit|zimmer|"
          r"etage|piso|sala|andar|office|bureau|buro)")
# Streets whose number follows their name ("Calle 502", "Rua Augusta, 502", "Gran Vía 502",
# "Hauptstraße 502") and those whose number comes first ("502 Market Street", "502, rue X").
_STREET_BEFORE = (r"(?:calle|carrera|avenida|av|avda|paseo|plaza|rua|travessa|alameda|praca|estrada|"
                  r"rodovia|via|viale|corso|piazza|vicolo|[a-z]*(?:strasse|str|weg|allee|platz|gasse|damm|ufer))")
_STREET_AFTER = r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|rue|chemin|quai|impasse)"
_BEFORE = re.compile(
    r"(?:\d[ ./-]|\d\) ?|[#°º]\s?|(?<![a-z])" + _LABEL + r"[.:#]?\s{0,2}(?:[#°º]\s?)?|"
    r"(?<![a-z])" + _STREET_BEFORE + r"\.?(?: [a-z.'-]{1,20}){0,2},? )$")
_AFTER = re.compile(r"^(?:[-/.]\d|\s\d{2,}(?![0-9]* ?(?:seats?|users?|members?|minutes?))|号室|号|"
                    r",? (?:[a-z.'-]{1,20} ){0,2}" + _STREET_AFTER + r"(?![a-z]))")


def number_part(text: str, start: int, end: int) -> bool:
    """Whether the number at `text[start:end]` is part of an order, phone or street number."""
    return bool(_BEFORE.search(text[max(0, start - 40):start]) or _AFTER.match(text[end:end + 40]))
