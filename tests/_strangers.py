"""Texts a router must hand to a person, held out from what the router learns from.

Written for these checks: none of them is in the router's own lists of small talk and
common foreign words (``loyalist.models._routing_parts``), and the foreign requests
are whole sentences, not the word salad the router makes up for itself.
"""

from __future__ import annotations

import numpy as np

GIBBERISH_FIXED = (
    "asdf", "asdfgh", "qwerty", "qwertyuiop", "zxcvbnm", "jjjjjjj", "aaaaaaa", "sdfsdfsdf",
    "lorem ipsum dolor sit amet", "xkcd", "hjkl", "fdsa jkl", "blah blah", "bla bla bla",
    "...", "???", "!!!", "12345", "0000", "x", "zzz", "qqq www eee", "mnbvcx", "poiuy",
    "wxyz abc", "ghfj dkslaa", "oiuoiu", "trololo", "lkjlkj", "uiop[]",
)

GREETINGS = (
    "Hello!", "hi team", "Good morning :)", "Hey, how's it going?", "Thanks a lot!",
    "Guten Abend", "Buona sera", "Boa tarde", "Good night", "Greetings", "yo", "sup",
    "Hiya", "Morning!", "Thx", "ty", "ok thanks", "Hello, anybody here?", "Hi hi",
    "Happy new year!", "Merry Christmas", "have a nice weekend", "Cheers mate",
    "Good day to you", "Howdy", "Hey there :)", "Thanks, bye", "Bonne journée",
    "Buenas tardes", "Dobry wieczór", "Hej hej", "Hallo zusammen", "See you",
    "Nice to meet you", "Take care", "Welcome", "hello hello", "Hi, thanks!",
    "Salve", "Goedenavond",
)

OTHER_LANGUAGES = (
    # German
    "Ich habe eine Frage zu meiner letzten Rechnung, der Betrag stimmt nicht.",
    "Meine Bestellung ist nach zwei Wochen immer noch nicht angekommen.",
    "Wie kann ich meine Adresse im Kundenkonto ändern?",
    "Die Lieferung war beschädigt, ich möchte das Geld zurück.",
    "Warum wurde mir der Betrag zweimal abgebucht?",
    "Bitte kündigen Sie meinen Vertrag zum Monatsende.",
    # French
    "Bonjour, je n'ai toujours pas reçu ma commande passée le mois dernier.",
    "Pourquoi ma facture est-elle plus élevée que d'habitude ?",
    "Je voudrais changer le mode de paiement de mon abonnement.",
    "Le colis est arrivé abîmé, que dois-je faire ?",
    "Pouvez-vous m'envoyer une copie de la facture de mars ?",
    "Je souhaite résilier mon contrat, merci de me confirmer.",
    # Spanish
    "Hola, mi pedido todavía no ha llegado y ya pasaron diez días.",
    "Me cobraron dos veces el mismo pago, necesito un reembolso.",
    "¿Cómo puedo cambiar la dirección de entrega?",
    "La factura tiene un error en el precio de los productos.",
    "Quiero hablar con alguien sobre mi contrato.",
    "El producto llegó roto, ¿me pueden enviar otro?",
    # Italian
    "Buongiorno, il mio ordine non è ancora arrivato.",
    "Ho ricevuto una fattura sbagliata, potete correggerla?",
    "Vorrei sapere quando verrà consegnato il pacco.",
    "Il pagamento è stato addebitato due volte sulla mia carta.",
    "Come posso aggiornare i dati del mio account?",
    "La merce è arrivata danneggiata, chiedo il rimborso.",
    # Portuguese
    "Olá, ainda não recebi a minha encomenda.",
    "A fatura deste mês veio com um valor errado.",
    "Gostaria de cancelar a minha assinatura, por favor.",
    "O produto chegou com defeito, quero trocar.",
    "Como faço para alterar o endereço de entrega?",
    "Fui cobrado duas vezes pelo mesmo pedido.",
    # Polish
    "Dzień dobry, moje zamówienie jeszcze nie dotarło.",
    "Na fakturze jest błędna kwota, proszę o korektę.",
    "Chciałbym zmienić adres dostawy.",
    "Paczka przyszła uszkodzona, proszę o zwrot pieniędzy.",
    "Dlaczego pobrano opłatę dwa razy?",
    "Proszę o rozwiązanie umowy z końcem miesiąca.",
    # Dutch
    "Mijn bestelling is nog steeds niet aangekomen.",
    "Er staat een fout in mijn factuur van deze maand.",
    "Hoe kan ik mijn betaalgegevens wijzigen?",
    "Het pakket was beschadigd, ik wil mijn geld terug.",
    # Swedish
    "Hej, min beställning har inte kommit fram än.",
    "Fakturan har fel belopp, kan ni rätta den?",
    "Jag vill säga upp mitt abonnemang.",
    "Varför har ni dragit pengar två gånger?",
    # Turkish
    "Merhaba, siparişim hâlâ gelmedi.",
    "Faturamda yanlış bir tutar var.",
    "Aboneliğimi iptal etmek istiyorum.",
    "Kartımdan iki kez ödeme alındı.",
    # Czech
    "Dobrý den, moje objednávka stále nedorazila.",
    "Na faktuře je chybná částka.",
    "Chtěl bych zrušit svou smlouvu.",
    "Balík přišel poškozený, chci vrátit peníze.",
)


def gibberish(n: int = 120, seed: int = 7) -> list[str]:
    """The fixed mash above, and more typed on the keyboard's rows at random."""
    rows = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    rng = np.random.default_rng(seed)
    out = list(GIBBERISH_FIXED)
    while len(out) < n:
        row = rows[rng.integers(3)]
        start = rng.integers(0, len(row) - 3)
        word = row[start:start + rng.integers(3, len(row) - start + 1)]
        out.append(" ".join(word[::-1] if rng.random() < 0.5 else word
                            for _ in range(rng.integers(1, 3))))
    return out[:n]
