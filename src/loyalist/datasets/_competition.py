"""Competitors and reasons for leaving in the synthetic firm's records (``competition=``).

Leavers speak, in their own language (en, de, fr, es, pt, it, pl), of why they go in
their last requests and survey comments: a competitor by name (the listed ones as
customers write them: the name, an alias, misspelt, lower case; or one the firm's list
lacks), a price, the service, the products, a move or closure, needs that ended. The
team logs an exit outcome (``touches``, outcome ``lost``, a note) for some of them.
Customers who stay write a few distractors: payment methods and carriers by name,
places they move to. The truth (every mention and each leaver's reason in the taxonomy
of ``[listening] loss_reasons``) goes into ``truth``, never into the tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from loyalist.datasets import _text as tx
from loyalist.datasets._common import contract_frame, ids

LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "pl")
LANGUAGE_P = (0.5, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05)
LOSS_REASONS = ("price", "service", "product", "competitor", "moved_or_closed",
                "no_longer_needs")
UNLISTED = ("Papyrus Direct", "Ordrix", "Stackwell", "Northgate Office", "Quillbox",
            "Tandem Supplies")
#: a leaver naming a competitor names one the firm's list lacks with this chance
UNLISTED_P = 0.3

#: reason -> language -> sentences; {name} is a competitor (topic in TOPIC_OF)
SAY = {
    "competitor": {
        "en": ("We have an offer from {name} and are switching to them.",
               "We are moving to {name}, their product range is better."),
        "de": ("Wir haben ein Angebot von {name} und wechseln zu {name}.",
               "Wir wechseln zu {name}, das Sortiment ist besser."),
        "fr": ("Nous avons une offre de {name} et allons passer chez {name}.",
               "Nous allons passer chez {name}, leur gamme de produits est meilleure."),
        "es": ("Tenemos una oferta de {name} y vamos a cambiarnos a {name}.",
               "Vamos a cambiarnos a {name}, su producto es mejor."),
        "pt": ("Recebemos uma oferta da {name} e vamos mudar para {name}.",
               "Vamos mudar para {name}, o produto deles é melhor."),
        "it": ("Abbiamo un'offerta di {name} e passeremo a {name}.",
               "Passeremo a {name}, il loro prodotto è migliore."),
        "pl": ("Mamy ofertę od {name} i chcemy przejść do {name}.",
               "Chcemy przejść do {name}, ich produkt jest lepszy."),
    },
    "price": {
        "en": ("{name} is cheaper for the same items, your prices are too high.",
               "Your prices are too expensive for us now, we cannot afford it."),
        "de": ("{name} ist günstiger für die gleichen Artikel, Ihr Preis ist zu hoch.",
               "Ihre Preise sind uns jetzt zu teuer."),
        "fr": ("{name} est moins cher pour les mêmes articles, votre prix est trop élevé.",
               "Vos prix sont trop chers pour nous maintenant."),
        "es": ("{name} es más barato por lo mismo, su precio es demasiado alto.",
               "Sus precios son demasiado caros para nosotros."),
        "pt": ("{name} é mais barato pelos mesmos itens, o preço de vocês é alto demais.",
               "Os seus preços estão muito caros para nós."),
        "it": ("{name} è più economico per gli stessi articoli, il vostro prezzo è alto.",
               "I vostri prezzi sono troppo cari per noi."),
        "pl": ("{name} jest tańszy za te same produkty, wasza cena jest za wysoka.",
               "Wasze ceny są dla nas za drogie."),
    },
    "service": {
        "en": ("Nobody answers our requests, the service is unacceptable.",),
        "de": ("Niemand antwortet, keine Antwort seit Wochen, der Kundendienst ist schlecht.",),
        "fr": ("Aucune réponse à nos demandes, le service est inacceptable.",),
        "es": ("Sin respuesta a nuestras solicitudes, el servicio es inaceptable.",),
        "pt": ("Sem resposta aos nossos pedidos, o atendimento é inaceitável.",),
        "it": ("Nessuna risposta alle nostre richieste, l'assistenza è inaccettabile.",),
        "pl": ("Brak odpowiedzi na nasze zgłoszenia, obsługa jest nie do przyjęcia.",),
    },
    "product": {
        "en": ("The quality of the last deliveries was poor, several items broke.",),
        "de": ("Die Qualität der letzten Lieferungen war schlecht, vieles war kaputt.",),
        "fr": ("La qualité des derniers articles était mauvaise, plusieurs sont cassés.",),
        "es": ("La calidad de los últimos artículos fue mala, varios defectuosos.",),
        "pt": ("A qualidade dos últimos itens foi ruim, vários com defeito.",),
        "it": ("La qualità degli ultimi articoli era scarsa, molti difettosi.",),
        "pl": ("Jakość ostatnich produktów była słaba, kilka było wadliwych.",),
    },
    "moved_or_closed": {
        "en": ("We are closing this site and moving away at the end of the month.",),
        "de": ("Wir schließen diesen Standort, Umzug zum Monatsende.",),
        "fr": ("Fermeture du site à la fin du mois, nous déménageons.",),
        "es": ("Cierre de nuestro local a fin de mes por mudanza.",),
        "pt": ("A empresa fecha no fim do mês, vamos encerrar o local.",),
        "it": ("Chiusura della sede a fine mese, ci trasferiamo.",),
        "pl": ("Zamykamy firmę pod koniec miesiąca, przeprowadzka.",),
    },
    "no_longer_needs": {
        "en": ("We no longer need these supplies, we are scaling down.",),
        "de": ("Wir brauchen das nicht mehr, der Bedarf ist weg.",),
        "fr": ("Nous n'en avons plus besoin désormais.",),
        "es": ("Ya no necesitamos estos suministros.",),
        "pt": ("Não precisamos mais destes materiais.",),
        "it": ("Non abbiamo più bisogno di queste forniture.",),
        "pl": ("Nie potrzebujemy już tych dostaw.",),
    },
}
#: the topic of the first and second sentence naming a competitor, per reason
TOPIC_OF = {"competitor": ("offer", "product"), "price": ("price", None)}
#: what customers who stay write now and then: names that are not competitors
DISTRACTORS = (
    "Can we pay with Apple Pay next time?", "Please ship with DHL, not UPS.",
    "Our accountant uses Xero, can you export invoices for it?",
    "We are moving to Berlin next year, same delivery terms please.",
    "Is PayPal accepted?", "Our Microsoft Teams channel is the best way to reach us.",
)
#: exit notes logged by the team: reason -> note ({name}: the competitor)
NOTES = {
    "competitor": "Lost: switching to {name}, their offer was better.",
    "price": "Lost on price: says we are too expensive.",
    "service": "Lost: unhappy with our service, nobody answered them.",
    "product": "Lost: product quality, items broke.",
    "moved_or_closed": "Lost: closing the site / moving away.",
    "no_longer_needs": "Lost: no longer need our supplies.",
}


def _misspell(rng: np.random.Generator, name: str) -> str:
    """One letter swapped, dropped or doubled in the longest word of ``name``."""
    words = name.split(" ")
    w = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[w]
    if len(word) < 5:
        return name
    i = int(rng.integers(1, len(word) - 2))
    kind = rng.integers(3)
    if kind == 0:
        word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    elif kind == 1:
        word = word[:i] + word[i + 1:]
    else:
        word = word[:i] + word[i] + word[i:]
    words[w] = word
    return " ".join(words)


def _written(rng: np.random.Generator, name: str, listed: bool) -> str:
    """How a customer writes a competitor's name."""
    if not listed:
        return name
    forms = [name, *tx.COMPETITOR_ALIASES[name]]
    out = forms[int(rng.integers(len(forms)))]
    u = rng.random()
    if u < 0.3:
        out = _misspell(rng, out)
    elif u < 0.4 and " " not in out:
        out = out.lower()
    return out


def add(seed: int, effect: float, tables: dict, truth: dict, as_of: pd.Timestamp) -> None:
    """Rewrite the leavers' last requests and comments to speak of their reasons, add
    distractors and the team's exit notes; the truth into ``truth`` (in place)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(15)[14])
    cust = truth["customers"]
    n = len(cust)
    lang = np.asarray(LANGUAGES)[rng.choice(len(LANGUAGES), n, p=LANGUAGE_P)]
    base = cust["reason"].to_numpy(dtype=object)
    u = rng.random(n)
    reason = np.where(base == "service", np.where(u < 0.3, "product", "service"),
                      np.where(base == "needs_changed",
                               np.where(u < 0.5, "moved_or_closed", "no_longer_needs"), base))
    reason = np.where(pd.isna(base), None, reason)
    names = list(tx.COMPETITORS)
    unlisted = rng.random(n) < UNLISTED_P
    rival = np.where(unlisted, np.asarray(UNLISTED)[rng.integers(len(UNLISTED), size=n)],
                     np.asarray(names)[rng.integers(len(names), size=n)])
    cust["language"] = lang
    cust["loss_reason"] = reason
    cust["rival"] = np.where(np.isin(reason, ["competitor", "price"]), rival, None)
    pos = {c: i for i, c in enumerate(cust["customer_id"])}
    mentions: list[dict] = []

    def speak(i: int, source: str, row_id: str) -> str | None:
        r = reason[i]
        if r is None or rng.random() >= 0.9 * effect:
            return None
        options = SAY[r][lang[i]]
        k = int(rng.integers(len(options)))
        text = options[k]
        if "{name}" in text:
            listed = rival[i] in names
            written = _written(rng, rival[i], listed)
            text = text.replace("{name}", written)
            mentions.append({"source": source, "id": row_id, "customer_id":
                             cust["customer_id"].iat[i], "competitor": rival[i],
                             "listed": listed, "written": written,
                             "topic": TOPIC_OF[r][k]})
        return text

    req = tables["requests"]
    whisper = truth["requests"]["is_whisper"].to_numpy()
    texts = req["text"].to_numpy(dtype=object).copy()
    rows = np.flatnonzero(whisper)
    for j in rows:
        said = speak(pos[req["customer_id"].iat[j]], "requests", req["id"].iat[j])
        texts[j] = said if said is not None else "Please call me back about our account."
    # distractors: names that are not competitors, in the texts of others
    calm = np.flatnonzero(~whisper & (rng.random(len(req)) < 0.02))
    texts[calm] = [f"{texts[j]} {DISTRACTORS[rng.integers(len(DISTRACTORS))]}"
                   for j in calm]
    req["text"] = pd.Series(texts, index=req.index).astype(req["text"].dtype)
    fb = tables["feedback"]
    comments = fb["comment"].to_numpy(dtype=object).copy()
    decided = cust["decided_at"].to_numpy()
    for j in range(len(fb)):
        i = pos[fb["customer_id"].iat[j]]
        if reason[i] is not None and pd.notna(decided[i]) and \
                fb["answered_at"].iat[j] >= decided[i]:
            said = speak(i, "feedback", fb["id"].iat[j])
            if said is not None:
                comments[j] = said
    fb["comment"] = pd.Series(comments, index=fb.index).astype(fb["comment"].dtype)
    tables["touches"] = _exit_notes(rng, cust, reason, rival, effect, as_of, mentions)
    truth["mentions"] = pd.DataFrame(mentions, columns=["source", "id", "customer_id",
                                                        "competitor", "listed", "written",
                                                        "topic"])


def _exit_notes(rng, cust, reason, rival, effect, as_of, mentions) -> pd.DataFrame:
    """The team's exit outcomes: for some customers who left before ``as_of``."""
    gone = cust["churned"].to_numpy() & (rng.random(len(cust)) < 0.6 * effect)
    rows = np.flatnonzero(gone)
    at = cust["churned_at"].to_numpy()[rows] + pd.to_timedelta(
        rng.integers(1, 10, len(rows)), "D").to_numpy()
    keep = at < np.datetime64(as_of)
    rows, at = rows[keep], at[keep]
    tid = ids("T", len(rows), 7)
    notes = []
    for k, i in enumerate(rows):
        note = NOTES[reason[i]]
        if "{name}" in note:
            listed = rival[i] in tx.COMPETITORS
            written = rival[i]
            note = note.replace("{name}", written)
            mentions.append({"source": "touches", "id": tid[k].as_py(),
                             "customer_id": cust["customer_id"].iat[i],
                             "competitor": rival[i], "listed": listed, "written": written,
                             "topic": "offer"})
        notes.append(note)
    return contract_frame("touches", {
        "id": tid, "customer_id": pa.array(cust["customer_id"].to_numpy()[rows], pa.string()),
        "at": at, "kind": pa.array(["call"] * len(rows), pa.string()),
        "by": pa.array([tx.OWNER_IDS[int(x)] for x in rng.integers(len(tx.OWNER_IDS),
                                                                      size=len(rows))],
                       pa.string()),
        "outcome": pa.array(["lost"] * len(rows), pa.string()),
        "note": pa.array(notes, pa.string())})
