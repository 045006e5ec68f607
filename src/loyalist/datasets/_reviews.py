"""Survey comments in several languages, worded by how the customer feels
(``make_business(feedback_languages=...)``).

Each customer writes in one language. A comment is one to three remarks about
deliveries, prices, service, products, invoices or the portal; each remark is praise,
a neutral or mixed note, or a complaint, drawn with probabilities that follow the
score the customer gave (before rounding), so low scores mostly come with
complaints, but not always, and the words alone do not give the score away.
The comments come from their own random stream: a business generated without this
option is unchanged.
"""

from __future__ import annotations

import numpy as np

#: remarks by language and tone: praise, neutral (or mixed), complaint
REMARKS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "praise": ("Deliveries always on time.", "Very helpful people on the phone.",
                   "Fair prices for the quality.", "The portal is easy to use.",
                   "Invoices are clear.", "Products are excellent.",
                   "Our account manager really cares.", "Quick answers to every question."),
        "neutral": ("Deliveries are mostly fine.", "Prices are what you would expect.",
                    "The portal does the job.", "Nothing special to report.",
                    "Good products, although delivery could be faster."),
        "complaint": ("Deliveries are late again and again.", "Nobody calls back.",
                      "Prices went up without warning.", "The invoice was wrong twice.",
                      "Damaged goods and no apology.", "We waited weeks for an answer.",
                      "The portal keeps failing.", "Support does not solve anything.",
                      "Too expensive for what we get."),
    },
    "de": {
        "praise": ("Lieferungen kommen immer pünktlich.", "Sehr hilfsbereite Mitarbeiter.",
                   "Faire Preise für die Qualität.", "Das Portal ist einfach zu bedienen.",
                   "Die Rechnungen sind klar.", "Hervorragende Produkte.",
                   "Unser Ansprechpartner kümmert sich wirklich.", "Schnelle Antworten."),
        "neutral": ("Die Lieferungen sind meistens in Ordnung.", "Preise wie erwartet.",
                    "Das Portal erfüllt seinen Zweck.", "Nichts Besonderes zu berichten.",
                    "Gute Produkte, die Lieferung könnte schneller sein."),
        "complaint": ("Die Lieferung kommt schon wieder zu spät.", "Niemand ruft zurück.",
                      "Die Preise sind ohne Ankündigung gestiegen.",
                      "Die Rechnung war zweimal falsch.", "Beschädigte Ware und keine "
                      "Entschuldigung.", "Wir warten seit Wochen auf eine Antwort.",
                      "Das Portal funktioniert ständig nicht.", "Der Support löst nichts.",
                      "Viel zu teuer für die Leistung."),
    },
    "es": {
        "praise": ("Las entregas siempre llegan a tiempo.", "Personal muy amable.",
                   "Precios justos para la calidad.", "El portal es fácil de usar.",
                   "Las facturas son claras.", "Productos excelentes.",
                   "Nuestro gestor se preocupa de verdad.", "Respuestas rápidas."),
        "neutral": ("Las entregas suelen estar bien.", "Precios normales.",
                    "El portal cumple su función.", "Nada especial que comentar.",
                    "Buenos productos, aunque la entrega podría ser más rápida."),
        "complaint": ("Otra vez la entrega llegó tarde.", "Nadie devuelve las llamadas.",
                      "Subieron los precios sin avisar.", "La factura estaba mal dos veces.",
                      "Mercancía dañada y ninguna disculpa.",
                      "Esperamos semanas una respuesta.", "El portal falla continuamente.",
                      "El soporte no resuelve nada.", "Demasiado caro para lo que ofrecen."),
    },
    "pt": {
        "praise": ("As entregas chegam sempre a tempo.", "Atendimento muito simpático.",
                   "Preços justos para a qualidade.", "O portal é fácil de usar.",
                   "As faturas são claras.", "Produtos excelentes.",
                   "O nosso gestor preocupa-se mesmo.", "Respostas rápidas."),
        "neutral": ("As entregas estão quase sempre bem.", "Preços dentro do esperado.",
                    "O portal cumpre a função.", "Nada de especial a referir.",
                    "Bons produtos, mas a entrega podia ser mais rápida."),
        "complaint": ("A entrega atrasou outra vez.", "Ninguém retorna as ligações.",
                      "Os preços subiram sem aviso.", "A fatura veio errada duas vezes.",
                      "Produto danificado e nenhum pedido de desculpa.",
                      "Esperámos semanas por uma resposta.", "O portal está sempre com "
                      "problemas.", "O suporte não resolve nada.",
                      "Caro demais para o que oferecem."),
    },
    "it": {
        "praise": ("Le consegne arrivano sempre puntuali.", "Personale molto gentile.",
                   "Prezzi giusti per la qualità.", "Il portale è facile da usare.",
                   "Le fatture sono chiare.", "Prodotti eccellenti.",
                   "Il nostro referente è davvero attento.", "Risposte rapide."),
        "neutral": ("Le consegne vanno quasi sempre bene.", "Prezzi nella norma.",
                    "Il portale fa il suo lavoro.", "Niente di particolare da segnalare.",
                    "Buoni prodotti, ma la consegna potrebbe essere più veloce."),
        "complaint": ("La consegna è di nuovo in ritardo.", "Nessuno richiama.",
                      "I prezzi sono aumentati senza preavviso.",
                      "La fattura era sbagliata due volte.",
                      "Merce danneggiata e nessuna scusa.",
                      "Aspettiamo da settimane una risposta.", "Il portale non funziona mai.",
                      "L'assistenza non risolve niente.", "Troppo caro per quello che offre."),
    },
    "pl": {
        "praise": ("Dostawy zawsze na czas.", "Bardzo pomocni pracownicy.",
                   "Uczciwe ceny za tę jakość.", "Portal jest łatwy w obsłudze.",
                   "Faktury są przejrzyste.", "Świetne produkty.",
                   "Nasz opiekun naprawdę się stara.", "Szybkie odpowiedzi."),
        "neutral": ("Dostawy są zwykle w porządku.", "Ceny zgodne z oczekiwaniami.",
                    "Portal spełnia swoje zadanie.", "Nic szczególnego.",
                    "Dobre produkty, ale dostawa mogłaby być szybsza."),
        "complaint": ("Dostawa znowu się spóźniła.", "Nikt nie oddzwania.",
                      "Ceny wzrosły bez uprzedzenia.", "Faktura była dwa razy błędna.",
                      "Uszkodzony towar i żadnych przeprosin.",
                      "Czekamy tygodniami na odpowiedź.", "Portal ciągle nie działa.",
                      "Wsparcie niczego nie rozwiązuje.", "Za drogo jak na to, co dostajemy."),
    },
}
LANGUAGES = tuple(REMARKS)
TONES = ("praise", "neutral", "complaint")


def tone_weights(score: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """(n, 3) probabilities of praise, neutral, complaint for a score on 0-10.

    ``strength`` scales how much the score decides the tone (0.5: half the effect;
    0: tone at random)."""
    k = 2.0 * strength
    praise = 1.0 / (1.0 + np.exp(-(score - 7.6) * k))
    complaint = 1.0 / (1.0 + np.exp((score - 6.4) * k))
    neutral = np.clip(1.0 - praise - complaint, 0.0, None) + 0.1
    w = np.column_stack([praise, neutral, complaint])
    return w / w.sum(axis=1, keepdims=True)


def comments(rng: np.random.Generator, languages: tuple[str, ...], customer: np.ndarray,
             n_customers: int, score: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """One comment per row (customer, latent score), in the customer's language."""
    unknown = [lang for lang in languages if lang not in REMARKS]
    if unknown or not languages:
        from loyalist.errors import DataError

        raise DataError(f"feedback_languages must be some of {', '.join(LANGUAGES)}; got "
                        f"{languages!r}.")
    lang_of = np.asarray(languages)[rng.integers(0, len(languages), n_customers)][customer]
    w = tone_weights(score, strength)
    count = 1 + rng.binomial(2, 0.35, len(score))
    out = np.empty(len(score), dtype=object)
    cdf = np.cumsum(w, axis=1)
    for i in range(len(score)):
        remarks = REMARKS[lang_of[i]]
        said = []
        for _ in range(count[i]):
            tone = TONES[int(np.searchsorted(cdf[i], rng.random() * cdf[i, -1]))]
            pool = remarks[tone]
            said.append(pool[rng.integers(len(pool))])
        out[i] = " ".join(dict.fromkeys(said))
    return out
