"""Each category's cues in the six languages triage reads (issue 18, item 2): English,
German, Spanish, French, Portuguese and Japanese. Examples of our own, not the corpus's;
each names a subscription and a group, so only the cues decide."""
from __future__ import annotations

import pytest

from workflows.triage import TicketText, triage

SUB, GROUP = "A-S00000042", "https://gitlab.com/acme-42"
TICKETS = {
    "portal_502": {
        "en": "When I try to link {sub} in the customers portal, the group list fails with 502 Bad Gateway.",
        "de": "Beim Zuordnen von {sub} im Kundenportal bricht die Gruppenliste mit Fehler 502 ab.",
        "es": "Al vincular {sub} en el portal de clientes, la lista de grupos da error 502.",
        "fr": "En voulant lier {sub} dans le portail client, la liste des groupes renvoie une erreur 502.",
        "pt": "Ao vincular {sub} no portal de clientes, a lista de grupos dá erro 502.",
        "ja": "カスタマーポータルで {sub} を紐付けようとすると、グループ一覧で 502 エラーになります。",
    },
    "namespace_taken": {
        "en": "We bought {sub}; our group {group} is greyed out and cannot be selected.",
        "de": "Wir haben {sub} gekauft, aber unsere Gruppe {group} ist ausgegraut.",
        "es": "Compramos {sub}, pero el grupo {group} aparece atenuado y no se puede seleccionar.",
        "fr": "Nous avons acheté {sub} mais le groupe {group} est grisé.",
        "pt": "Compramos {sub}, mas o grupo {group} aparece acinzentado.",
        "ja": "{sub} を購入しましたが、グループ {group} がグレーアウトして選択できません。",
    },
    "account_link": {
        "en": "The wrong GitLab.com account is linked to our customers portal account ({sub}); please unlink it.",
        "de": "Mit unserem Kundenkonto ({sub}) ist das falsche GitLab-Konto verknüpft, bitte lösen Sie die Verknüpfung.",
        "es": "La cuenta de GitLab vinculada a nuestro portal ({sub}) es una cuenta equivocada; ¿pueden desvincularla?",
        "fr": "Le mauvais compte GitLab est lié à notre compte client ({sub}) ; merci de le dissocier.",
        "pt": "A conta errada do GitLab está vinculada ao nosso portal ({sub}); podem desvincular?",
        "ja": "カスタマーポータル（{sub}）に間違ったアカウントが紐付いています。紐付けを解除してください。",
    },
    "compute_minutes": {
        "en": "We purchased 2,000 extra compute minutes for {group} but they are not showing.",
        "de": "Wir haben 2.000 zusätzliche Compute-Minuten für {group} gekauft, sie werden nicht angezeigt.",
        "es": "Compramos 2.000 minutos de CI para {group} y no aparecen.",
        "fr": "Nous avons acheté des minutes de calcul pour {group}, elles n'apparaissent pas.",
        "pt": "Compramos minutos de CI para {group}, mas não aparecem.",
        "ja": "{group} 向けにコンピューティング時間を購入しましたが、反映されていません。",
    },
    "associate_subscription": {
        "en": "We bought Premium ({sub}) but {group} is still on the Free plan. Please apply it.",
        "de": "Wir haben Premium ({sub}) gekauft, aber {group} zeigt immer noch Free.",
        "es": "Compramos Premium ({sub}) pero la suscripción no aparece en {group}.",
        "fr": "Nous avons acheté Premium ({sub}) mais l'abonnement n'apparaît pas sur {group}.",
        "pt": "Compramos o Premium ({sub}), mas a assinatura não aparece no grupo {group}.",
        "ja": "Premium（{sub}）を購入しましたが、{group} に反映されません。",
    },
    "other": {
        "en": "Please send us the invoice for {sub} ({group}) with our VAT number.",
        "de": "Bitte senden Sie uns die Rechnung für {sub} ({group}).",
        "es": "Necesitamos la factura de {sub} ({group}).",
        "fr": "Pouvez-vous nous envoyer la facture de {sub} ({group}) ?",
        "pt": "Precisamos da nota fiscal da assinatura {sub} ({group}).",
        "ja": "{sub}（{group}）の請求書を発行してください。",
    },
}
CASES = [(category, language, text) for category, texts in TICKETS.items() for language, text in texts.items()]


@pytest.mark.parametrize("expected, language, text", CASES, ids=[f"{c}-{lang}" for c, lang, _ in CASES])
def test_each_category_in_each_language(expected, language, text):
    findings = triage(TicketText("", text.format(sub=SUB, group=GROUP)))
    assert findings.category == expected, findings.cues
    assert findings.confidence >= 0.5


@pytest.mark.parametrize("text", [
    "Could you transfer ownership of the customers portal account to me?",
    "Bitte übertragen Sie das Konto im Kundenportal auf mich, der Inhaber soll sich ändern.",
    "¿Pueden transferir la propiedad de la cuenta del portal a mi compañera?",
    "Pourriez-vous transférer la propriété du compte du portail client à ma collègue ?",
    "Gostaríamos de transferir a titularidade da conta do portal para mim.",
    "カスタマーポータルのアカウントの所有者を私に変更してください。",
])
def test_an_ownership_transfer_in_each_language_is_account_link(text):
    assert triage(TicketText("", text)).category == "account_link"


@pytest.mark.parametrize("text", [
    "Please move {sub} from https://gitlab.com/old-a to https://gitlab.com/new-a.",
    "Bitte verschieben Sie {sub} von der Gruppe „old-a“ auf die Gruppe „new-a“.",
    "Queremos mover {sub} del grupo «old-a» al grupo «new-a».",
    "Pouvez-vous déplacer {sub} du groupe « old-a » vers le groupe « new-a » ?",
    "Precisamos mover {sub} do grupo “old-a” para o grupo “new-a”.",
    "{sub} をグループ「old-a」からグループ「new-a」へ移動してください。",
])
def test_a_move_between_two_named_groups_in_each_language_is_namespace_taken(text):
    findings = triage(TicketText("", text.format(sub=SUB)))
    assert findings.category == "namespace_taken" and findings.namespaces == ("old-a", "new-a")


@pytest.mark.parametrize("expected, text", [
    ("account_link", "Our portal account is still linked to Marco's GitLab user; he left the company. "
                     "Please change it to mine. A-S00000001"),
    ("account_link", "La cuenta del portal está vinculada al usuario de GitLab de un antiguo empleado."),
    ("compute_minutes", "Nos minutes CI achetées pour https://gitlab.com/x ne sont pas créditées."),
    ("portal_502", "Kundenportal: Bad Gateway, wenn ich die Gruppe für A-S00000001 auswählen will."),
    ("namespace_taken", "Comprei A-S00000001 e o grupo aparece desabilitado na lista."),
    ("namespace_taken", "グループ「abc-1」は既にサブスクリプションに関連付けられていると表示されます。"),
    ("other", "二段階認証のリカバリーコードを紛失しました。グループ https://gitlab.com/x"),
])
def test_other_wordings(expected, text):
    assert triage(TicketText("", text)).category == expected
