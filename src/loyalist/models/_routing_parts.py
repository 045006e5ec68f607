"""Parts of the request router: its view of the input, its calibrations, its file.

Private to :mod:`loyalist.models.routing`.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from loyalist.errors import DataError, SourceError

#: format of a saved router; bump when the pickled layout changes
FORMAT_VERSION = 1
_FORMAT = "loyalist.RequestRouter"
_RETRAIN = "retrain it with `loyalist route --train` (or RequestRouter().fit(...).save(path))."

#: columns of a DataFrame input the router reads
TEXT_COLUMNS = ("subject", "text")


def ngrams(value, name: str) -> tuple[int, int]:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
          and 1 <= value[0] <= value[1])
    if not ok:
        raise DataError(f"The '{name}' parameter of RequestRouter must be a pair (min_n, max_n) "
                        f"of integers with 1 <= min_n <= max_n. Got {value!r} instead.")
    return int(value[0]), int(value[1])


def documents(X) -> pd.DataFrame:
    """The router's view of its input: one ``doc`` string and a ``channel`` per row."""
    if isinstance(X, str):
        X = [X]
    if isinstance(X, pd.DataFrame):
        present = [c for c in TEXT_COLUMNS if c in X.columns]
        if not present:
            raise DataError(
                f"The requests need a 'text' (or 'subject') column; found {list(X.columns)}.",
                hint="rename the column that holds what the customer wrote to 'text'.")
        parts = [X[c].astype("string").fillna("").str.strip() for c in present]
        doc = parts[0] if len(parts) == 1 else (parts[0] + "\n" + parts[1]).str.strip()
        channel = (X["channel"].astype("string").fillna("").str.strip().str.lower()
                   if "channel" in X.columns else pd.Series("", index=X.index, dtype="string"))
        return pd.DataFrame({"doc": doc.to_numpy(dtype=object),
                             "channel": channel.to_numpy(dtype=object)})
    values = pd.Series(np.asarray(X, dtype=object).ravel() if not isinstance(X, pd.Series)
                       else X.to_numpy(dtype=object))
    doc = values.astype("string").fillna("").str.strip()
    return pd.DataFrame({"doc": doc.to_numpy(dtype=object),
                         "channel": np.full(len(doc), "", dtype=object)})


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def svm_scores(model: LinearSVC, X) -> np.ndarray:
    s = model.decision_function(X)
    return np.column_stack([-s, s]) if s.ndim == 1 else s


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the log loss of ``softmax(scores / T)``."""

    def nll(log_t: float) -> float:
        z = scores / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))
        return -float(logp.mean())

    res = optimize.minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e2)), method="bounded")
    return float(np.exp(res.x))


def top_features(scores: np.ndarray) -> np.ndarray:
    """Top score and its margin over the runner-up, per row."""
    top2 = np.partition(scores, scores.shape[1] - 2, axis=1)[:, -2:]
    return np.column_stack([top2[:, 1], top2[:, 1] - top2[:, 0]])


def fit_confidence(scores: np.ndarray, y: np.ndarray) -> LogisticRegression | None:
    """P(top category is right | top score, margin); None if no fold ever erred."""
    right = scores.argmax(axis=1) == y
    if right.all() or not right.any():
        return None
    return LogisticRegression(C=100.0).fit(top_features(scores), right)


def write_saved(router, path) -> Path:
    """Pickle ``router`` with its format version, atomically."""
    import sklearn

    import loyalist

    path = Path(path)
    payload = {"format": _FORMAT, "format_version": FORMAT_VERSION,
               "loyalist": loyalist.__version__, "sklearn": sklearn.__version__,
               "router": router}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def read_saved(path, cls):
    """The router in a file written by :func:`write_saved`, after checking its format."""
    import sklearn

    path = Path(path)
    if not path.exists():
        raise SourceError(f"No saved router at {str(path)!r}.",
                          hint="train one first, e.g. `loyalist route --train`.")
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing
        raise DataError(f"{str(path)!r} is not a readable saved router ({e}).",
                        hint=_RETRAIN) from e
    if (not isinstance(payload, dict) or payload.get("format") != _FORMAT
            or not isinstance(payload.get("router"), cls)):
        raise DataError(f"{str(path)!r} is not a saved {cls.__name__}.", hint=_RETRAIN)
    if payload.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{str(path)!r} holds router format {payload.get('format_version')}; "
                        f"this Loyalist reads format {FORMAT_VERSION}.", hint=_RETRAIN)
    if payload.get("sklearn") != sklearn.__version__:
        warnings.warn(f"{path} was saved with scikit-learn {payload.get('sklearn')} and is "
                      f"loaded with {sklearn.__version__}; retrain if predictions look off.",
                      UserWarning, stacklevel=3)
    return payload["router"]


# -- knowing when it does not know ---------------------------------------------------------
#: a word: two or more letters
WORD = r"(?u)\b[^\W\d_]{2,}\b"

#: greetings and small talk, in several languages: never a request to route
SMALL_TALK = (
    "hello", "hi", "hey", "hi there", "hello there", "good morning", "good afternoon",
    "good evening", "thanks", "thank you", "thank you very much", "many thanks", "ok",
    "okay", "yes", "no", "bye", "goodbye", "cheers", "test", "testing", "hello?", "anyone?",
    "are you there", "how are you", "nice day", "hallo", "guten tag", "guten morgen",
    "danke", "vielen dank", "tschüss", "bonjour", "bonsoir", "merci", "merci beaucoup",
    "salut", "au revoir", "hola", "buenos días", "gracias", "adiós", "ciao", "buongiorno",
    "grazie", "arrivederci", "olá", "bom dia", "obrigado", "obrigada", "tchau", "dzień dobry",
    "cześć", "dziękuję", "do widzenia", "hej", "tack", "goedemorgen", "dank je", "merhaba",
    "teşekkürler", "ahoj", "děkuji", "kiitos", "moi", "hei", "takk")

#: common words of languages a router trained on English texts has not seen: the
#: stuff of made-up sentences in an unseen language
FOREIGN_WORDS = {
    "de": "ich du er sie wir ihr und oder aber nicht kein mein dein unser der die das ein "
          "eine ist sind war habe hat haben wird werden kann können muss bitte warum wann "
          "wo wie was noch schon immer heute morgen gestern mit ohne für auf bei nach von "
          "zu über unter Rechnung Konto Karte Geld Zahlung Lieferung Bestellung Paket".split(),
    "fr": "je tu il elle nous vous ils et ou mais ne pas mon ma mes notre le la les un une "
          "est sont était avoir ai avez fait peut pouvez doit pourquoi quand où comment "
          "quoi encore déjà toujours aujourd'hui demain hier avec sans pour sur chez après "
          "facture compte carte argent paiement livraison commande colis".split(),
    "es": "yo tú él ella nosotros ustedes y o pero no mi mis nuestro el la los las un una "
          "es son era tengo tiene han puede pueden debe por qué cuándo dónde cómo todavía "
          "ya siempre hoy mañana ayer con sin para sobre después factura cuenta tarjeta "
          "dinero pago entrega pedido paquete".split(),
    "it": "io tu lui lei noi voi e o ma non mio mia nostro il lo la gli le un una è sono "
          "era ho hanno può possono deve perché quando dove come ancora già sempre oggi "
          "domani ieri con senza per su dopo fattura conto carta soldi pagamento consegna "
          "ordine pacco".split(),
    "pt": "eu tu ele ela nós vocês e ou mas não meu minha nosso o a os as um uma é são era "
          "tenho tem têm pode podem deve porque quando onde como ainda já sempre hoje "
          "amanhã ontem com sem para sobre depois fatura conta cartão dinheiro pagamento "
          "entrega pedido encomenda".split(),
    "pl": "ja ty on ona my wy oraz lub ale nie mój moja nasz jest są był mam ma mają może "
          "mogą musi dlaczego kiedy gdzie jak jeszcze już zawsze dzisiaj jutro wczoraj z "
          "bez dla na po faktura konto karta pieniądze płatność dostawa zamówienie "
          "paczka".split(),
    "nl": "ik jij hij zij wij jullie en of maar niet geen mijn ons de het een is zijn was "
          "heb heeft hebben kan kunnen moet waarom wanneer waar hoe nog al altijd vandaag "
          "morgen gisteren met zonder voor op na factuur rekening kaart geld betaling "
          "levering bestelling pakket".split(),
    "tr": "ben sen o biz siz ve veya ama değil benim bizim bir bu şu var yok oldu olacak "
          "neden ne zaman nerede nasıl hâlâ zaten her zaman bugün yarın dün ile için sonra "
          "fatura hesap kart para ödeme teslimat sipariş paket".split(),
}


def tokens(text: str, analyzer) -> set:
    return set(analyzer(text))


def novelty_table(docs: pd.Series, word_known: set, char_known: set, word_an, char_an
                  ) -> np.ndarray:
    """Per text: share and number of its words seen in training (in two or more
    texts), share of its letter triples seen there, and how many words it has."""
    out = np.zeros((len(docs), 4))
    for i, doc in enumerate(docs):
        words = tokens(doc, word_an)
        chars = tokens(doc, char_an)
        k = len(words & word_known)
        out[i] = (k / len(words) if words else 0.0, np.log1p(k),
                  len(chars & char_known) / len(chars) if chars else 0.0,
                  np.log1p(len(words)))
    return out


def strangers(rng: np.random.Generator, docs: pd.Series, n: int) -> pd.Series:
    """Texts that are not requests the router knows: keyboard mash, letters shuffled
    out of real requests, greetings and small talk, and made-up sentences in unseen
    languages (the words of real requests in a fixed letter code, and common words
    of other languages)."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    out = []
    per = max(1, n // 5)
    for _ in range(per):  # mash: one to four 'words' of random letters
        words = ["".join(rng.choice(letters, rng.integers(2, 9)))
                 for _ in range(rng.integers(1, 5))]
        out.append(" ".join(words))
    sample = docs.sample(min(len(docs), per), random_state=int(rng.integers(1 << 30)),
                         replace=len(docs) < per)
    for doc in sample:  # shuffled letters: the length of a request, no words of one
        chars = np.array(list(str(doc)))
        rng.shuffle(chars)
        out.append("".join(chars))
    for _ in range(per):  # greetings, alone or two together, with punctuation
        k = rng.integers(1, 3)
        out.append(" ".join(rng.choice(SMALL_TALK, k)) + rng.choice(["", "!", ".", "?"]))
    code = dict(zip(letters, rng.permutation(letters), strict=True))
    for doc in docs.sample(min(len(docs), per), random_state=int(rng.integers(1 << 30)),
                           replace=len(docs) < per):  # the same request, words in code
        out.append("".join(code.get(ch, ch) for ch in str(doc).lower()))
    langs = list(FOREIGN_WORDS)
    for _ in range(per):  # sentences of common words of another language
        words = FOREIGN_WORDS[langs[rng.integers(len(langs))]]
        out.append(" ".join(rng.choice(words, rng.integers(3, 14))).capitalize() + "?")
    return pd.Series(out, dtype=object)
