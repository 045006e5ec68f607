"""Listening to customers' own words: ``[listening]`` in ``loyalist.toml``.

The firm's competitors and their aliases, the words of switching (per language) near
which names the list lacks are proposed, the topics of a mention and the loss-reason
taxonomy with the words that suggest each reason. ``loyalist competitors``,
``loyalist reasons``, the web page /listening and :mod:`loyalist.listening` read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.settings._declare import at_least, setting, share

#: words that announce a switch, per language (regular expressions, case-insensitive)
SWITCHING = {
    "en": ["switch(ing|ed)? to", "mov(e|ing) to", "offer from", "quote from", "cheaper",
           "going with", "go with", "competitor", "chang(e|ing) to", "went to"],
    "de": ["wechseln zu", "wechsel zu", "umsteigen auf", "angebot von", "günstiger",
           "billiger", "konkurrenz", "gehen zu"],
    "fr": ["passer (chez|à)", "changer pour", "offre de", "moins cher", "concurrent",
           "aller chez"],
    "es": ["cambiar(nos)? a", "pasar(nos)? a", "oferta de", "más barat[oa]", "competencia",
           "irnos con"],
    "pt": ["mudar para", "trocar para", "oferta d[aoe]", "mais barat[oa]", "concorr[eê]n",
           "ir para"],
    "it": ["passare a", "cambiare con", "offerta d[ai]", "più economic[oi]", "concorren",
           "andare da"],
    "pl": ["przej[sś][cć] do", "zmieni[cć] na", "ofert[aęy] od", "tani[ej]", "konkurencj"],
}

#: what a mention is about: topic -> words (regular expressions, case-insensitive)
TOPICS = {
    "price": ["pric", "cheap", "cost", "expensiv", "rate", "pay less", "preis", "günstig",
              "billig", "teuer", "prix", "cher", "tarif", "precio", "barat", "caro", "preço",
              "prezz", "economic", "cen[aey]", "tani", "drogo"],
    "offer": ["offer", "deal", "discount", "promo", "quote", "angebot", "rabatt", "offre",
              "remise", "oferta", "descuento", "desconto", "offert", "sconto", "ofert",
              "rabat"],
    "product": ["product", "range", "quality", "feature", "portal", "app\\b", "produkt",
                "qualität", "sortiment", "produit", "qualité", "gamme", "producto", "calidad",
                "produto", "qualidade", "prodott", "qualità", "jakoś", "asortyment"],
    "service": ["service", "support", "deliver", "answer", "respon", "kundendienst",
                "lieferung", "antwort", "livraison", "réponse", "servicio", "atención",
                "entrega", "atendimento", "assistenza", "consegna", "obsług", "dostaw"],
}

#: loss reason -> words that suggest it (regular expressions, case-insensitive)
LOSS_REASONS = {
    "price": ["too expensive", "price", "prices", "cheaper", "cost", "afford", "zu teuer",
              "preis", "trop cher", "prix", "demasiado caro", "precio", "muito caro", "preço",
              "troppo caro", "prezz", "za drogo", "cen[aey]"],
    "service": ["nobody answers", "no reply", "service", "unacceptable", "chase", "waiting",
                "keine antwort", "kundendienst", "aucune réponse", "sin respuesta",
                "sem resposta", "nessuna risposta", "brak odpowiedzi", "obsług"],
    "product": ["quality", "broke", "broken", "defect", "faulty", "poor product", "qualität",
                "kaputt", "qualité", "calidad", "defectuos", "qualidade", "qualità", "difett",
                "jakoś", "wadliw"],
    "competitor": ["switch", "competitor", "other supplier", "another supplier", "offer from",
                   "wechsel", "konkurrenz", "concurrent", "competencia", "concorr",
                   "konkurencj"],
    "moved_or_closed": ["closing", "closed", "moving", "relocat", "shut down", "schließen",
                        "umzug", "fermeture", "déménag", "cierre", "mudanza", "fecha",
                        "chiusura", "trasfer", "zamyka", "przeprowadz"],
    "no_longer_needs": ["no longer need", "need much less", "scaling down", "downsiz",
                        "brauchen nicht mehr", "plus besoin", "ya no necesit",
                        "não precisamos", "non abbiamo più bisogno", "nie potrzebujemy"],
}


@dataclass(frozen=True)
class ListeningSettings:
    """The ``[listening]`` settings."""

    competitors: dict[str, list[str]] = setting(
        {}, "The firm's competitors, each with its aliases (other spellings, short names, "
        "product names) as written by customers. Empty: competitor analysis asks for it.",
        example='competitors = { "Brightline Supply" = ["Brightline", "BLS"] }')
    max_edits: int = setting(
        1, "Misspellings allowed in a name of 5 to 8 letters (letters changed, added or "
        "dropped); names of 9 letters or more allow one more, shorter names none.",
        check=at_least(0))
    switching_words: dict[str, list[str]] = setting(
        SWITCHING, "Words that announce a switch, per language (regular expressions): "
        "capitalised names near them that the list lacks are proposed as competitors.")
    window: int = setting(
        2, "How many words either side of a switching word a proposed name may be.",
        check=at_least(1), unit="words")
    min_customers: int = setting(
        2, "A name is proposed once this many customers wrote it near a switching word.",
        check=at_least(1), unit="customers")
    topics: dict[str, list[str]] = setting(
        TOPICS, "What a mention is about (topic -> words, regular expressions); a "
        "mention whose sentence has none is \"other\".")
    loss_reasons: dict[str, list[str]] = setting(
        LOSS_REASONS, "The loss-reason taxonomy: reason -> words that suggest it in a "
        "customer's last texts (regular expressions). An exit outcome logged by the team "
        "whose note names a reason takes precedence.")
    last_days: int = setting(
        180, "The texts and mentions of a customer's last this many days before leaving "
        "count (reasons, competitors named before leaving).", check=at_least(1),
        unit="days")
    valuable_top: float = setting(
        0.2, "A customer among the top share by value who names a competitor is a "
        "whisper.", check=share, unit="share of customers")


__all__ = ["LOSS_REASONS", "SWITCHING", "TOPICS", "ListeningSettings"]
