"""The cues: named, weighted patterns for each category, run on folded text.

Every pattern is linear on long input: no unbounded quantifier follows another that can
match the same characters, windows are bounded (`.{0,60}`), and matches that could start
anywhere in a run are anchored to the run's start by a look-behind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .negation import negated
from .numbers import number_part

# (folded text, start, end) -> whether the match there does not mean the cue
Reject = Callable[[str, int, int], bool]

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
    # Matches that do not mean the cue where they stand: a fact the customer denies ("the
    # group is NOT greyed out", negation.py; cues that hold a negation of their own, like
    # "not showing", are never denied), a 502 that is an order's or a street's (numbers.py).
    rejects: tuple[Reject, ...] = ()


def _cue(label: str, weight: float, *alternatives: str, unless: str | None = None,
         negatable: bool = False) -> Cue:
    return Cue(label, weight, re.compile("|".join(f"(?:{a})" for a in alternatives)),
               re.compile(unless) if unless else None, (negated,) if negatable else ())


def _denied(*cues: Cue, also: tuple[Reject, ...] = ()) -> tuple[Cue, ...]:
    """The same cues, each one that a negation near it cancels (and `also`)."""
    return tuple(Cue(c.label, c.weight, c.pattern, c.unless, (negated, *also)) for c in cues)


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
               r"compr(?:e|amos|ado|ei|ou|ato|ati)", "gekauft", "erworben", "bestellt", "bezahlt",
               "achete", "acquis", r"adquir(?:imos|ido|i)", r"pag(?:amos|ado)", r"acquistat[oi]") \
    + r"|購入|购买"
PURCHASE = f"{PURCHASED}|" + _w("buy", r"purchas(?:e|ing)")
NOT_APPLIED = _w(
    r"(?:not|n't|never|no longer|nicht|pas|nao|non) (?:been |yet |be |being )?(?:applied|showing|shown|"
    r"show(?:s|ing)? up|show|reflect(?:ed|ing)?|added|credited|visible|available|updated|"
    r"appear(?:s|ed|ing)?|there|received|increased|activ(?:e|ated)|linked|associated)",
    r"still (?:shows?|showing|at|says|0|zero|the same|limited|blocked|exceeded|out of)",
    r"neither (?:of them )?(?:shows?|appears?|is|are|has|have)", r"missing", r"disappeared",
    r"no aparecen?", r"no se (?:muestra|refleja|ve|aplica)n?", r"no (?:esta|estan) (?:aplicad|activ)[oa]s?",
    r"n'apparai?(?:ssen)?t (?:toujours |plus )?pas", r"ne s'affichen?t pas", r"pas (?:encore |toujours )?"
    r"(?:creditee?s?|appliquee?s?|activee?s?|visibles?)", r"(?:wird|werden) nicht angezeigt",
    r"nicht (?:sichtbar|gutgeschrieben|freigeschaltet|ubernommen|aktiv)",
    r"erscheinen? (?:uberhaupt |gar )?nicht", r"nicht zu sehen", r"fehl(?:t|en)", r"nao aparecem?",
    r"nao (?:foi|foram|esta|estao) (?:aplicad|ativad|creditad)[oa]s?",
    r"non (?:appare|compare|viene visualizzat[oa])") + \
    r"|表示されない|表示されません|表示されていない|表示されていません|反映されない|反映されていない|" \
    r"反映されていません|反映されません|適用されていない|適用されていません|付与されていない|没有显示|未显示"
RENEWAL = _w("renewals?", "renovacion", "verlangerung", "renouvellement", "renovacao", "rinnovo")
LINK_VERB = _w(r"link(?:s|ed|ing)?", r"associat[a-z]{0,5}", r"appl(?:y|ied|ying)",
               r"assign[a-z]{0,4}", r"attach[a-z]{0,4}", r"activat[a-z]{0,4}", r"connect[a-z]{0,4}",
               r"provision[a-z]{0,5}", r"allocat[a-z]{0,4}", "asociar", r"vincul[a-z]{0,4}",
               "aplicar", "activar", "associer", "lier", "appliquer", "activer", "rattacher",
               "zuordnen", "zuweisen", "verknupfen", "aktivieren", "anwenden", "associare",
               "collegare", "attivare", "applicare", "associar", "ativar",
               r"activ(?:e|emos|en|ara|aran|arla|arlo)", r"ativ(?:e|em|emos|ara|arem|a-la|a-lo)",
               r"activ(?:ez|ions)", r"aktivier(?:t|te|en sie)", r"zuordn(?:et|en sie)") + \
    r"|紐付け|紐づけ|関連付け|適用|关联|绑定"

PORTAL_ERROR = _denied(
    _cue("gateway error", 1.0,
         r"(?<![a-z0-9.,$-])50[24](?![0-9])(?! ?(?:seats?|users?|minutes?|members?|gb|mb|usd|eur|%))",
         _w("bad ?gateway", r"gateway ?(?:error|time-? ?out)", r"erro(?:r|re)? de gateway",
            "erreur de passerelle")),
    _cue("timeout", 0.75, _w(r"time[sd]?[ -]?out", "timing out", "timeouts", "zeituberschreitung",
                             "delai d'attente", "tiempo de espera", "tempo limite", "tempo esgotado")
         + r"|タイムアウト|超时"),
    _cue("server error", 0.75,
         _w("internal server error", r"(?:error|erreur|fehler|erro|errore|http|status)[ :]{0,3}50[0-4]",
            r"50[0-4] ?(?:error|erreur|fehler|erro|errore)", "service unavailable") + r"|50[0-4] ?エラー"),
    _cue("'something went wrong'", 0.75,
         _w("something went wrong", "an error occurred", "algo salio mal", "ocurrio un error",
            "etwas ist schief ?gelaufen", "ein fehler ist aufgetreten",
            "une erreur (?:s'est produite|est survenue)", "quelque chose s'est mal passe",
            "algo deu errado", "ocorreu um erro", "qualcosa e andato storto",
            "si e verificato un errore") + r"|問題が発生|エラーが発生|出错了"),
    _cue("groups never load", 0.75,
         r"(?:groups?|namespaces?|dropdown|drop-down|list) [^\n.]{0,30}(?:never|doesn'?t|does not|"
         r"won'?t|will not|not) (?:load|finish)",
         r"(?:liste|gruppen|lista|grupos|groupes)[^\n.]{0,30}(?:ladt|laden|carga|cargan|charge|chargent|"
         r"carrega|carregam) (?:nicht|nunca|jamais|pas)",
         _w("loading forever", r"keeps? (?:loading|spinning)", r"stuck (?:on |at )?loading",
            r"nunca termina de cargar", r"se queda cargando", r"no (?:carga|cargan)", r"ladt (?:ewig|endlos)",
            r"ne (?:se )?charge(?:nt)? (?:pas|jamais)", r"charge indefiniment", r"fica carregando",
            r"nao carrega(?:m)?", r"nunca carrega(?:m)?")
         + r"|読み込みが終わらない|読み込まれない|ロードが終わらない|読み込み中のまま"),
    also=(number_part,))
# triage.md, rule 1: "while linking or listing groups" - the context portal_502 needs.
LINKING_OR_LISTING = _cue(
    "linking or listing groups", 0.5,
    f"(?:{LINK_VERB})[^\\n]{{0,40}}(?:{SUB_ANY}|{GROUP})",
    r"change linked (?:namespace|group)",
    # word-bounded: "downloading the invoice for our group" lists no groups
    _w(r"select(?:s|ed|ing)?", r"choos(?:e|es|ing)", r"pick(?:s|ed|ing)?", r"load(?:s|ed|ing)?",
       r"list(?:s|ed|ing)?", r"fetch(?:es|ed|ing)?", r"(?:aus)?wahlen", "laden", "seleccionar", "elegir",
       "cargar", "selectionner", "choisir", "charger", "selecionar", "escolher", "carregar")
    + f"[a-z' ]{{0,20}}(?:{GROUP})",
    f"(?:{GROUP}) ?(?:list|dropdown|drop-down|selector|menu)", _w("dropdown", "drop-down"),
    _w("gruppenliste", "auswahlliste", r"lista de (?:los )?grupos", r"liste des groupes", r"lista (?:de|dos) grupos")
    + r"|グループ一覧|グループのリスト|グループの一覧")
PORTAL = _cue("customers portal", 0.5,
              _w(r"customers? ?portal", r"customers\.gitlab\.com", r"customers ?dot", "portal",
                 "portail", "portale", "kundenportal", "manage purchases") + r"|ポータル")
PORTAL_CONTEXT = (PORTAL, LINKING_OR_LISTING)
MENTIONS_GROUP = re.compile(GROUP)

GRAYED_OUT = _w(r"gr[ae]y(?:ed|d)?[ -]?out", "greyed", "grayed", "ausgegraut", r"grise(?:e|s|es)?",
                "en gris", "em cinza", r"atenuad[oa]s?", r"acinzentad[oa]s?", r"esmaecid[oa]s?", "in grigio",
                r"grau (?:hinterlegt|dargestellt|angezeigt)", r"disabled \(gr[ae]y\)") \
    + r"|グレーアウト|グレー表示|灰色|置灰"
# A feature or control that is grayed out ("approval rules are still greyed out", "greyed-out
# button") is a plan not applied, not a group that cannot be picked (triage.md, rule 2).
FEATURE = _w(r"(?:approval |merge |mr )?rules?", r"buttons?", r"features?", r"toggles?",
             r"checkbox(?:es)?", r"switch(?:es)?")
GRAYED_FEATURE = (f"(?:{FEATURE})(?: (?:are|is|were|was|still|now|all|also|remain|remains|stay|stays|"
                  f"appear|appears|show|shows|as)){{0,3}} (?:{GRAYED_OUT})|(?:{GRAYED_OUT}) (?:{FEATURE})")

TAKEN = _denied(
    _cue("group grayed out", 1.0, GRAYED_OUT, unless=GRAYED_FEATURE),
    _cue("group cannot be selected", 1.0,
         f"(?:{CANNOT}) (?:select|choose|pick|click(?: on)?)[a-z' ]{{0,30}}(?:{GROUP})",
         f"(?:{GROUP})[a-z' ]{{0,30}}(?:{CANNOT}|not|n't) (?:be )?(?:selected|selectable|chosen|clickable)",
         _w("no (?:puedo|podemos) (?:seleccionar|elegir)", "impossible de (?:selectionner|choisir)",
            "nao (?:consigo|conseguimos) (?:selecionar|escolher)",
            "non (?:riesco|riusciamo) a selezionare", r"(?:kann|konnen) [a-z ]{0,30}nicht (?:aus)?wahlen",
            r"no (?:lo |la )?(?:puedo|podemos|se puede) (?:seleccionar|elegir)",
            r"ne (?:peut|peux|pouvons) pas (?:etre )?(?:le |la )?selectionne[r]?",
            r"nao (?:e possivel|pode ser|da para) selecionad?[oa]?r?", r"nicht (?:aus)?wahlbar",
            r"lasst sich nicht (?:aus)?wahlen")
         + r"|選択できません|選択できない|選べません|選べない"),
    _cue("group disabled in the list", 0.75,
         f"(?:{GROUP})[^\\n]{{0,40}}(?:disabled|unselectable|unclickable|desactivad[oa]|"
         f"deshabilitad[oa]|desabilitad[oa]|disattivat[oa]|deaktiviert)",
         r"(?:グループ)[^。\n]{0,20}(?:無効|選択不可)"),
    _cue("already associated with a subscription", 1.0,
         f"already (?:associated|linked|attached|assigned|tied|connected) (?:to|with) "
         f"[a-z' ]{{0,25}}(?:{SUB_NOUN})",
         f"(?:{GROUP})[a-z' ]{{0,30}}already (?:has|had|have) (?:an? |one |another )?"
         f"[a-z ]{{0,15}}(?:{SUB_NOUN})",
         _w("ya (?:esta|tiene) [a-z ]{0,20}(?:asociad[oa]|suscripcion)",
            "deja (?:associe|lie)e?", "bereits (?:einem |ein )?(?:abonnement|zugeordnet|verknupft)",
            "ja (?:esta )?associad[oa]", "ja (?:esta )?vinculad[oa]", "deja associee? a un abonnement",
            "gia associat[oa]")
         + r"|(?:すでに|既に)[^。\n]{0,15}(?:関連付け|紐付け|紐づけ)"),
)
MOVE = _cue("move a subscription between groups", 1.0,
            _w(r"mov(?:e|ed|ing)", r"transfer(?:s|red|ring)?", r"switch(?:ed|ing)?", r"migrat[a-z]{0,4}",
               r"reassign[a-z]{0,3}", r"re-?link", "change", "changing") + f"[^\\n]{{0,60}}(?:{SUB_NOUN})",
            # the subscription far from the verb, in the same sentence ("move - as discussed
            # with our account manager last week, because ... - the Premium subscription")
            _w(r"mov(?:e|ed|ing)", r"transfer(?:s|red|ring)?", r"switch(?:ed|ing)?", r"migrat[a-z]{0,4}")
            + f"[^\\n.!?]{{0,200}}(?:{SUB_NOUN})",
            f"(?:{SUB_NOUN})[^\\n]{{0,60}}" + _w(r"mov(?:e|ed|ing)", r"transfer(?:red|ring)?",
                                                r"switch(?:ed|ing)?", r"migrat[a-z]{0,4}",
                                                r"reassign[a-z]{0,3}"),
            _w("mover", "transferir", "verschieben", "ubertragen", "umziehen", "deplacer", "transferer",
               "spostare", "trasferire") + r"|移動|移行|付け替え|付替え|移管")
MOVE_TO_ONE = Cue("move a subscription to a group", MOVE.weight, MOVE.pattern)

ACCOUNT_LINK = (
    _cue("wrong account linked", 1.0,
         _w(r"wrong (?:gitlab(?:\.com)? )?(?:user ?)?(?:account|user)",
            r"incorrect (?:gitlab(?:\.com)? )?(?:account|user)",
            r"falsche[nsm]? (?:gitlab(?:\.com)?[ -])?(?:konto|account|benutzer)", "mauvais compte",
            "compte incorrect", "cuenta (?:equivocada|incorrecta|erronea)", "conta (?:errada|incorreta)",
            "account sbagliato")
         + r"|(?:間違った|誤った)[^。\n]{0,12}アカウント", negatable=True),
    _cue("cannot link the account", 1.0,
         f"(?:{CANNOT}) (?:link|connect|associate|change|update|switch) "
         r"(?:my |our |the |a |his |her |their |this )?"
         r"(?:gitlab(?:\.com)? |customers? portal )?(?:user ?)?account",
         # the same said in the passive, as the portal's error puts it
         _w(r"account (?:could ?not|couldn'?t|can ?not|can'?t|was not|wasn'?t) be(?:en)? "
            r"(?:linked|connected|associated)",
            r"(?:kann|konnen) (?:mein|unser)?(?:e|en)? ?(?:gitlab(?:\.com)?-?)?konto nicht verknupfen",
            r"no (?:puedo|podemos) vincular (?:mi|nuestra)? ?cuenta", r"impossible de lier (?:mon|notre) compte",
            r"nao (?:consigo|conseguimos) vincular (?:a |minha |nossa )?conta")
         + r"|アカウント(?:を|が)[^。\n]{0,6}(?:紐付け|紐づけ|連携)(?:でき|され)(?:ません|ない)"),
    _cue("already linked to another account", 1.0,
         _w(r"already (?:linked|associated|connected|tied|in use|used|registered) (?:to|with|by) "
            r"(?:another|a different|an ?other|other|some ?one else|a second)",
            "otra cuenta", "anderen konto", "autre compte", "outra conta", "altro account")
         + r"|別のアカウントに(?:紐付|紐づ|連携)"),
    _cue("change the linked account", 1.0,
         _w(r"(?:change|update|switch|replace|modify)(?:d|s|ing)? (?:the |my |our |this )?"
            r"(?:linked|connected|associated) (?:gitlab(?:\.com)? )?(?:user ?)?account",
            r"verknupfte[sn]? konto (?:andern|wechseln|austauschen)",
            r"cambiar la cuenta (?:de gitlab(?:\.com)? )?vinculada",
            r"changer (?:le|de) compte (?:gitlab(?:\.com)? )?lie",
            r"(?:mudar|alterar|trocar) a conta (?:do gitlab(?:\.com)? )?vinculada")
         + r"|紐付け(?:先)?(?:の)?アカウントを変更"),
    _cue("unlink the account", 1.0,
         _w(r"(?:unlink|disconnect|detach|remove the link)(?:ed|ing)? (?:of |from )?"
            r"(?:my |our |the |this |his |her |their |that )?(?:gitlab(?:\.com)? |customers? portal |admin )?"
            r"(?:user ?)?account", r"desvincul(?:ar|e|em|en|ela|elo|arla|arlo|ar[a-z]{0,3})", "desassociar",
            r"dissocier", r"delier", r"(?:supprimer|retirer) (?:le|la) (?:lien|liaison)", "scollegare",
            r"verknupfung (?:losen|aufheben|entfernen|trennen)",
            r"(?:losen|trennen|entfernen|aufheben) sie (?:bitte )?die verknupfung")
         + r"|紐付けを解除|紐づけを解除|紐付け解除|紐づけ解除|連携を解除|連携解除"),
    _cue("transfer the portal account", 1.0,
         _w(r"(?:transfer|change|move|hand over)[a-z]{0,3}[^\n.]{0,30}(?:ownership|owner)[^\n.]{0,30}"
            r"(?:portal|customers ?dot|customers|billing account)",
            r"(?:portal|customers ?dot|customers portal|billing) account[^\n.]{0,40}"
            r"(?:transfer|new owner|ownership|owner change)", r"change (?:the )?account owner",
            r"(?:transferer|changer|modifier|ceder)[a-z]{0,3} (?:la propriete|le proprietaire|le titulaire)"
            r"[^.]{0,40}compte", r"(?:ancien |nouveau )?(?:proprietaire|titulaire) (?:du|de notre|de ce) compte",
            r"(?:transferir|cambiar|traspasar)[a-z]{0,3} (?:la propiedad|la titularidad|el titular|"
            r"el propietario|el dueno) de (?:la|nuestra) cuenta",
            r"(?:transferir|mudar|alterar|trocar)[a-z]{0,3} (?:a titularidade|a propriedade|o titular|"
            r"o proprietario|o dono) da (?:nossa )?conta",
            r"(?:inhaber|eigentumer|besitzer)[^.]{0,30}(?:andern|ubertragen|wechseln)",
            r"konto[^.]{0,30}(?:ubertragen|uberschreiben) (?:auf|an) (?:mich|uns)")
         + r"|(?:所有者|オーナー|名義|管理者)[^。]{0,30}(?:変更|移管|移行|譲渡)",
         # "transfer the account to me / to bob@...": a person, not a group, receives it
         r"(?<![a-z0-9])transfer (?:the |this |that |our |his |her |their )?"
         r"(?:customers? portal |portal |billing )?account (?:over )?to "
         r"(?:(?:me|us|my|our|another|someone|a new|the new)(?![a-z0-9])|[a-z0-9._%+-]{1,64}@)"),
    _cue("linked to an old or former account", 1.0,
         _w(r"linked (?:to|with) (?:my |our |the |an? |his |her |their )?(?:old|previous|former|personal|"
            r"private|ex|departed|admin)")),
    _cue("the linked account", 0.5,
         _w(r"linked (?:gitlab(?:\.com)? )?account", r"account (?:is |was )?(?:still )?(?:linked|connected)",
            r"link(?:ing)? (?:my |our |the |a |his |her |their )?(?:gitlab(?:\.com)? )?account",
            "verknupfte[sn]? konto", r"konto[^.]{0,60}verknupft", r"compte (?:gitlab(?:\.com)? )?lie",
            r"cuenta[^.]{0,40}vinculad[oa]", r"conta[^.]{0,40}vinculad[oa]", r"compte[^.]{0,40}(?<![a-z])lie")
         + r"|紐付いている[^。]{0,20}アカウント|紐づいている[^。]{0,20}アカウント|連携している[^。]{0,20}アカウント"),
    _cue("a former employee", 0.75,
         _w(r"(?:former|ex|previous|departed)[ -](?:employee|colleague|coworker|co-worker|admin[a-z]{0,10}|"
            r"owner|staff|member|account)", r"(?:left|leaving) the (?:company|organi[sz]ation|team)",
            r"no longer (?:with|works|employed|at)", r"ehemalige[nrm]?",
            r"ancien(?:ne)? (?:employe|collegue|salarie)",
            r"ex[ -]?(?:empleado|funcionario|colaborador|dipendente)", r"ex-?collaborat(?:eur|rice)",
            r"antig[uo]o? (?:empleado|trabajador|colaborador|funcionario)", r"ancien(?:ne)? administrat[a-z]{0,5}",
            r"(?:a|ha) quitte (?:la societe|l'entreprise)", r"(?:saiu|deixou) (?:da|a) empresa",
            r"ya no trabaja", r"(?:hat|haben) uns [a-z ]{0,20}verlassen", r"parti a la retraite")
         + r"|元社員|退職した|退職者|前任者?", negatable=True),
    _cue("a GitLab.com account", 0.25, _w(r"gitlab(?:\.com)? (?:user ?)?account")),
)
# Only these say the ticket is about the link itself, not just about some account.
LINK_SPECIFIC = frozenset(c.label for c in ACCOUNT_LINK[:8])

ADDON = (
    _cue("compute minutes", 1.0,
         _w(r"(?:compute|ci|ci/cd|ci-cd|cicd|pipeline|runner|shared runner|build)[ -]?minutes?",
            r"(?:additional|extra) (?:compute )?minutes", r"minutes? (?:pack|add-?on|top-?up)s?",
            "compute units?", "minutos de (?:ci|computo|compute|calculo|computacao)", "minutes de calcul",
            "(?:rechen|ci|compute)[ -]?minuten", "minuti di calcolo", r"minutos (?:adicionales|adicionais)",
            r"minutes? (?:de )?(?:ci|ci/cd|cicd|compute)")
         + r"|コンピューティング時間|コンピュート時間|計算時間|(?:ci/cd|ci|パイプライン)(?:の)?(?:分数|時間)"),
    _cue("storage add-on", 1.0,
         _w(r"storage (?:add-?on|pack|purchase|upgrade)s?", r"(?:additional|extra|more) storage",
            r"\d+ ?gb(?: of)?(?: additional| extra)? storage", "almacenamiento adicional",
            "stockage supplementaire", "zusatzlicher speicher", "armazenamento adicional",
            "spazio di archiviazione aggiuntivo", r"(?:zusatz|extra)-?speicher")
         + r"|追加(?:の)?ストレージ|ストレージ(?:の)?(?:追加|アドオン)",
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
            "ainda (?:no plano |esta no )?(?:gratuito|free)",
            r"sigue (?:apareciendo|mostrando) (?:el )?(?:plan )?(?:gratuito|free)",
            r"(?:weiterhin|noch) (?:den |im |auf )?(?:free|kostenlos)(?:-plan)?",
            r"(?:indique|affiche) (?:encore|toujours) (?:le plan )?(?:free|gratuit)",
            r"continua (?:no plano |no )?(?:gratuito|free)")
         + r"|(?:free|無料)(?:プラン)?(?:の|と表示)"),
    _cue("link a subscription to a group", 1.0,
         f"(?:{LINK_VERB})[^\\n]{{0,40}}(?:{SUB_NOUN})", f"(?:{SUB_NOUN})[^\\n]{{0,40}}(?:{LINK_VERB})",
         f"(?:{LINK_VERB}) (?:it|this|that|them) (?:to|with|on|onto) (?:the |our |my )?(?:{GROUP})"),
    _cue("change linked namespace", 1.0,
         _w(r"change (?:the )?linked (?:namespace|group)", "change subscription namespace"),
         f"(?:{GROUP}) [a-z' ]{{0,20}}(?:not|n't) (?:in|on) the (?:list|dropdown|drop-down)",
         f"(?:not|n't) (?:see|find) (?:my |our |the )?(?:{GROUP})",
         _w(r"(?:erscheint|steht) (?:uberhaupt |gar )?nicht in der liste", "nicht in der liste",
            r"no (?:aparece|sale) en la lista", r"n'apparai?t pas dans la liste",
            r"ne (?:le |la )?vois pas dans la liste", r"nao aparece na lista")
         + r"|一覧に(?:表示|出て)(?:され)?(?:ない|ません|こない)|リストに表示され(?:ない|ません)"),
    _cue("provisioning", 1.0, _w(r"provision[a-z]{0,5}")),
    _cue("reseller or marketplace purchase", 0.75,
         _w("resellers?", "distributors?", r"(?:aws|gcp|google cloud|google|amazon) marketplace",
            "marketplace", "revendeur", "distribuidor", "wiederverkaufer", "rivenditore", "revendedor",
            r"(?:through|via) (?:a |our )?partner") + r"|販売代理店|リセラー|代理店"),
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

# An invoice, quote or order given by its number is where a number came from ("quote
# Q-88123", "factura F-118233", "devis n° D-2026-0502"), not a request for one.
REFERENCED = (r"(?:invoices?|inv|factura|facture|fatura|rechnung|quotes?|cotizacion|devis|angebot|orcamento|"
              r"purchase order|po) ?(?:no\.?|nr\.?|n\.?o|n°|nº|number|numero|nummer|#|:)? ?[a-z]{0,4}[-#]?\d[\d-]*")

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
         unless=_w(REFERENCED, r"(?:invoices?|receipts?) (?:is |are |was )?attached",
                   r"attached (?:is |are )?(?:the |our |an? |my )?(?:invoices?|receipts?)",
                   r"(?:according to|as per) (?:the |our |my )?(?:last |latest |recent )?"
                   r"(?:invoices?|receipts?)")),
    # A quote is the sales side of an invoice: a sales request, not a purchase to apply.
    _cue("quote", 1.0,
         _w(r"(?:renewal|sales|price|pricing) quotes?", r"quotations?", r"quotes? (?:for|request)",
            r"(?:send|need|request|get|provide|want)(?: us| me)? (?:a|an|the|new|updated) quote",
            "cotizacion", "devis", "angebot", "orcamento", "preventivo"), unless=_w(REFERENCED)),
    # Self-managed subscriptions are activated on the instance: no GitLab.com group to link.
    _cue("self-managed licence", 1.0,
         _w(r"activation codes?", r"licen[cs]e (?:keys?|files?)", "cloud licensing",
            r"self-?(?:managed|hosted) (?:instance|licen[cs]e|subscription|premium|ultimate|plan)",
            r"(?:premium|ultimate|subscription|plan|licen[cs]e)s? (?:for )?self-?(?:managed|hosted)",
            r"on-?prem(?:ise|ises)?", r"selbst ?gehostete?[nrs]? (?:gitlab-?)?instanz", "lizenzdatei",
            "aktivierungscode", r"autogestionad[oa]", r"autoalojad[oa]", "codigo de activacion",
            "archivo de licencia", r"auto-?(?:geree?|hebergee?)", "code d'activation", "fichier de licence",
            r"autogerenciad[oa]", r"auto-?hospedad[oa]", "codigo de ativacao", "arquivo de licenca")
         + r"|セルフマネージド|セルフホスト|アクティベーションコード|ライセンスファイル|オンプレミス"),
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
            r"please add (?:a |an |the )?(?:feature|option|support|ability)", "roadmap", "enhancement",
            r"(?:solicitud|peticion) de (?:funcionalidad|funcion)", r"demande de fonctionnalite",
            r"(?:funktions|feature)-?wunsch", r"(?:solicitacao|pedido) de (?:recurso|funcionalidade)")
         + r"|機能要望|機能追加の要望"),
    _cue("SSO", 1.0, _w("sso", "saml", "scim", r"single sign[ -]?on", "identity provider")),
)


