"""Competitor mentions in customers' own words, and names the firm's list lacks.

:func:`find_mentions` finds the firm's competitors (``[listening] competitors``, each
with its aliases) in any texts: requests, feedback comments, notes of outcomes. Names
are matched word by word on the texts' vocabulary, not text by text: the texts are split
into words once (Arrow), each distinct word is compared once with the aliases (exact,
or within a bounded number of edits, transpositions included, vectorised with NumPy),
and only the few texts holding a matching word are looked at one by one for the
evidence sentence and the topic. :func:`propose_names` looks for capitalised names
near switching words (in the languages of ``[listening] switching_words``) that are not
on the list, for the firm to confirm.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loyalist.errors import DataError
from loyalist.settings.listening import ListeningSettings

#: texts handled at once (memory: about 1 GB per million texts)
CHUNK = 1_000_000
_WORD_PY = re.compile(r"[^\W_]+")
_SENTENCE = re.compile(r"[^.!?;:\n]+[.!?;:]?")
#: capitalised words that are not names, in the languages of the switching words
_NOT_NAMES = frozenset("""
i we our you your they the a an this that it he she my me us hello hi dear thanks thank
kind regards please honestly still after since monday tuesday wednesday thursday friday
saturday sunday january february march april may june july august september october
november december ok yes no also but and so if when then re fwd
wir ich sie unser unsere ihr ihre der die das ein eine hallo guten tag danke bitte und
nous je vous notre nos le la les un une bonjour merci et mais
nosotros yo usted nuestro nuestra el la los las un una hola gracias y pero
nós eu você nosso nossa o os as um uma olá obrigado obrigada e mas
noi io lei nostro nostra il lo gli le un una ciao grazie e ma
my ja wy nasz nasza ten ta to dzień dobry dziękuję i ale
""".split())


def _lev_within(vocab: list[str], word: str, k: int) -> np.ndarray:
    """Which words of ``vocab`` are within ``k`` edits of ``word`` (optimal string
    alignment: a changed, added, dropped or swapped letter is one edit), vectorised
    over the words of each length."""
    out = np.zeros(len(vocab), dtype=bool)
    if k == 0 or not vocab:
        return out
    lens = np.fromiter((len(w) for w in vocab), dtype=np.int64, count=len(vocab))
    m = len(word)
    a = np.frombuffer(word.encode("utf-32-le"), dtype=np.uint32)
    for n in range(max(1, m - k), m + k + 1):
        rows = np.flatnonzero(lens == n)
        if len(rows) == 0:
            continue
        b = np.frombuffer("".join(vocab[r] for r in rows).encode("utf-32-le"),
                          dtype=np.uint32).reshape(len(rows), n)
        prev2 = None
        prev = np.broadcast_to(np.arange(n + 1), (len(rows), n + 1)).copy()
        for i in range(1, m + 1):
            cur = np.empty_like(prev)
            cur[:, 0] = i
            cost = (b != a[i - 1]).astype(np.int64)
            for j in range(1, n + 1):
                v = np.minimum(np.minimum(prev[:, j] + 1, cur[:, j - 1] + 1),
                               prev[:, j - 1] + cost[:, j - 1])
                if prev2 is not None and j > 1:
                    swap = (b[:, j - 1] == a[i - 2]) & (b[:, j - 2] == a[i - 1])
                    v = np.where(swap, np.minimum(v, prev2[:, j - 2] + 1), v)
                cur[:, j] = v
            prev2, prev = prev, cur
        out[rows[prev[:, n] <= k]] = True
    return out


def edits_allowed(word: str, max_edits: int) -> int:
    """Misspellings tolerated in a word: none below 5 letters (or in an acronym),
    ``max_edits`` from 5 letters, one more from 9."""
    if len(word) < 5 or word.isupper():
        return 0
    return max_edits + (1 if len(word) >= 9 and max_edits > 0 else 0)


@dataclass(frozen=True)
class Alias:
    competitor: str
    words: tuple[str, ...]  # lower case
    exact_case: tuple[str | None, ...]  # the word as written, where case must match
    capital: bool = False  # every word must start with a capital (several-word names)


def aliases_of(settings: ListeningSettings) -> list[Alias]:
    """Every name of every competitor (its own name first), word by word."""
    if not settings.competitors:
        raise DataError(
            "No competitors are listed: competitor mentions need the firm's list.",
            hint='Add them to loyalist.toml: [listening] then competitors = { "Brightline '
                 'Supply" = ["Brightline", "BLS"] } (docs/listening.md). `loyalist '
                 'competitors --propose` suggests names found in customers\' texts.')
    out = []
    for name, others in settings.competitors.items():
        for alias in dict.fromkeys([name, *others]):
            words = tuple(_WORD_PY.findall(alias))
            if not words:
                continue
            # "Office Now" is a name, "office now" a phrase: a name of several words
            # written with capitals counts only when written with them
            out.append(Alias(name, tuple(w.lower() for w in words),
                             tuple(w if w.isupper() else None for w in words),
                             capital=len(words) > 1 and all(w[0].isupper() for w in words)))
    return out


def _tokens(texts: pa.Array):
    """The whitespace-separated pieces of every text: (piece id of each token, where
    each text's tokens start, distinct pieces as written). Splitting on white space and cleaning the
    few distinct pieces afterwards is several times faster than a regular expression."""
    lists = pc.ascii_split_whitespace(texts)  # other spaces: split into words later
    flat = pc.list_flatten(lists)
    offsets = lists.offsets.to_numpy()
    enc = pc.dictionary_encode(flat)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return enc.indices.to_numpy(zero_copy_only=False), offsets, enc.dictionary.to_pylist()


def _owner(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The text of each token position (the few that matter, not every token)."""
    return np.searchsorted(offsets, positions, side="right") - 1


def _piece_hits(pieces: list[str], aliases: list[Alias], max_edits: int):
    """Per piece (a whitespace-separated token, possibly ``Kestrel-Direct,``): which
    alias word its first word matches, which its last word matches (both (pieces,
    alias words) booleans), and the aliases found whole inside it."""
    words = [_WORD_PY.findall(p) for p in pieces]
    vocab = sorted({w for ws in words for w in ws})
    where = {w: i for i, w in enumerate(vocab)}
    hit = match_words(vocab, aliases, max_edits)
    n_cols = hit.shape[1]
    first = np.zeros((len(pieces), n_cols), dtype=bool)
    last = np.zeros_like(first)
    has = np.fromiter((bool(ws) for ws in words), dtype=bool, count=len(words))
    fi = np.fromiter((where[ws[0]] if ws else 0 for ws in words), dtype=np.int64,
                     count=len(words))
    la = np.fromiter((where[ws[-1]] if ws else 0 for ws in words), dtype=np.int64,
                     count=len(words))
    first[has] = hit[fi[has]]
    last[has] = hit[la[has]]
    inside: dict[int, list[tuple[int, str]]] = {}
    starts = np.cumsum([0] + [len(a.words) for a in aliases])[:-1]
    multi = np.flatnonzero(hit.any(axis=1))
    hot = {int(i) for i in multi}
    for p, ws in enumerate(words):
        if len(ws) < 2 or not any(where[w] in hot for w in ws):
            continue
        for a_i, a in enumerate(aliases):
            cols = starts[a_i] + np.arange(len(a.words))
            for i in range(len(ws) - len(a.words) + 1):
                if all(hit[where[ws[i + s]], cols[s]] for s in range(len(a.words))):
                    inside.setdefault(p, []).append((a_i, " ".join(ws[i:i + len(a.words)])))
                    break
    return first, last, inside, words


def _as_arrow(texts) -> pa.Array:
    arr = texts if isinstance(texts, pa.Array | pa.ChunkedArray) else pa.array(
        pd.Series(texts, dtype=object).where(pd.notna(texts), None).tolist(), pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.fill_null(arr, "")


def match_words(vocab: list[str], aliases: list[Alias], max_edits: int) -> np.ndarray:
    """(len(vocab), number of alias words) booleans: which written word matches which
    word of which alias (exact case for acronyms, else case-blind within the edits
    allowed)."""
    lower = [w.lower() for w in vocab]
    index = {w: i for i, w in enumerate(lower)}
    cols = [(a, s) for a in aliases for s in range(len(a.words))]
    hit = np.zeros((len(vocab), len(cols)), dtype=bool)
    capital = np.fromiter((w[:1].isupper() for w in vocab), dtype=bool, count=len(vocab))
    for c, (a, s) in enumerate(cols):
        word, case = a.words[s], a.exact_case[s]
        if case is not None:
            hit[:, c] = np.fromiter((v == case for v in vocab), dtype=bool, count=len(vocab))
            continue
        i = index.get(word)
        if i is not None:
            hit[np.flatnonzero(np.fromiter((x == word for x in lower), dtype=bool,
                                           count=len(lower))), c] = True
        k = edits_allowed(word, max_edits)
        if k:
            hit[:, c] |= _lev_within(lower, word, k)
        if a.capital:
            hit[:, c] &= capital
    return hit


def find_mentions(texts, settings: ListeningSettings | None = None, *,
                  topics: bool = True) -> pd.DataFrame:
    """Competitor mentions in ``texts`` (a sequence of strings; missing ones are empty).

    One row per text and competitor named: ``row`` (position in ``texts``),
    ``competitor``, ``written`` (as the customer wrote it), ``topic`` (price, offer,
    product, service or other) and ``evidence`` (the sentence naming it).
    """
    settings = settings or ListeningSettings()
    aliases = aliases_of(settings)
    arr = _as_arrow(texts)
    if len(arr) > CHUNK:  # bounded memory: a million texts at a time
        parts = []
        for lo in range(0, len(arr), CHUNK):
            part = find_mentions(arr.slice(lo, CHUNK), settings, topics=topics)
            part["row"] += lo
            parts.append(part)
        return pd.concat(parts, ignore_index=True)
    ids, offsets, pieces = _tokens(arr)
    first, last, inside, words = _piece_hits(pieces, aliases, settings.max_edits)
    starts = np.cumsum([0] + [len(a.words) for a in aliases])[:-1]
    rows: list[tuple] = []
    whole = np.zeros(len(pieces), dtype=bool)
    whole[list(inside)] = True
    start_hit = last[:, starts].any(axis=1)
    # the one pass over every token: where a name may start
    cand = np.flatnonzero((whole | start_hit)[ids])
    owner = np.full(len(ids), -1, dtype=np.int64)  # filled where needed below
    near = np.unique(np.concatenate([cand + s for s in range(max(len(a.words)
                                                                  for a in aliases))]))
    near = near[near < len(ids)]
    owner[near] = _owner(offsets, near)
    # a name inside one piece (Kestrel, "Kestrel-Direct,")
    for p in cand[whole[ids[cand]]]:
        for a_i, written in inside[int(ids[p])]:
            rows.append((int(owner[p]), aliases[a_i].competitor, written, int(p)))
    # one-word names, and names over several pieces (Kestrel Direct)
    pos = cand[start_hit[ids[cand]]]
    for a_i, a in enumerate(aliases):
        col = starts[a_i]
        p = pos[last[ids[pos], col]]
        if len(a.words) == 1:
            p = p[first[ids[p], col]]  # the piece is that one word
        for s in range(1, len(a.words)):
            q = p + s
            ok = q < len(ids)
            p, q = p[ok], q[ok]
            p = p[(owner[q] == owner[p]) & first[ids[q], col + s]]
        for start in p:
            written = " ".join(words[ids[start + s]][-1 if s == 0 else 0]
                               for s in range(len(a.words)))
            rows.append((int(owner[start]), a.competitor, written, int(start)))
    cols = ["row", "competitor", "written", "topic", "evidence"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object)
                             for c in cols})
    found = (pd.DataFrame(rows, columns=["row", "competitor", "written", "at"])
             .sort_values(["row", "at", "written"], key=None)
             .drop_duplicates(["row", "competitor"]).reset_index(drop=True))
    texts_found = arr.take(pa.array(found["row"].to_numpy())).to_pylist()
    topic_re = _topic_re(settings.topics)
    evidence, topic, done = [], [], {}
    for text, written in zip(texts_found, found["written"], strict=True):
        key = (text, written)  # texts repeat (templates, copies): each is read once
        if key not in done:
            sentence = _sentence_with(text, written)
            done[key] = (sentence, _topic(sentence, written, topic_re) if topics else None)
        evidence.append(done[key][0])
        topic.append(done[key][1])
    found["evidence"], found["topic"] = evidence, topic
    return found[cols]


def _sentence_with(text: str, written: str) -> str:
    first = written.split(" ")[0]
    at = text.find(first)
    for m in _SENTENCE.finditer(text):
        if m.start() <= at < m.end():
            return m.group().strip()
    return text.strip()


def _topic_re(topics: dict) -> re.Pattern:
    """One pattern, a named group per topic."""
    parts = [f"(?P<{_group(t)}>" + "|".join(f"(?:{w})" for w in ws) + ")"
             for t, ws in topics.items() if ws]
    return re.compile("|".join(parts) or "(?!x)x", re.IGNORECASE)


def _group(topic: str) -> str:
    return "t_" + topic.encode().hex()


def _topic(sentence: str, written: str, rx) -> str:
    """The topic whose word is nearest the name in its sentence ("other": none)."""
    at = sentence.find(written.split(" ")[0])
    best, gap = "other", None
    for m in rx.finditer(sentence):
        d = abs(m.start() - at)
        if gap is None or d < gap:
            best, gap = m.lastgroup, d
    return best if best == "other" else bytes.fromhex(best[2:]).decode()


def _switch_re(settings: ListeningSettings) -> str:
    words = [w for ws in settings.switching_words.values() for w in ws]
    if not words:
        raise DataError("No switching words are set: names cannot be proposed.",
                        hint="Set [listening] switching_words, or leave it out for the "
                             "defaults (docs/listening.md).")
    return r"(?i)\b(?:" + "|".join(f"(?:{w})" for w in words) + ")"


def propose_names(texts, customers=None, settings: ListeningSettings | None = None
                  ) -> pd.DataFrame:
    """Capitalised names near switching words that are not on the competitor list.

    ``customers`` (aligned with ``texts``) counts the distinct customers writing each
    name; a name is proposed once ``min_customers`` did. Returns ``name``,
    ``customers``, ``texts`` and an ``evidence`` sentence, most customers first.
    """
    settings = settings or ListeningSettings()
    arr = _as_arrow(texts)
    pattern = _switch_re(settings)
    keep = np.flatnonzero(pc.match_substring_regex(arr, pattern).to_numpy(
        zero_copy_only=False))
    who = (np.arange(len(arr)) if customers is None
           else pd.Series(customers).astype(object).to_numpy())
    rx = re.compile(pattern)
    # words written in lower case somewhere are ordinary words, not names
    _ids, _owner, pieces = _tokens(arr.take(pa.array(keep)))
    vocab = sorted({w for p in pieces for w in _WORD_PY.findall(p)})
    lower_seen = {w for w in vocab if w.islower()}
    seen: dict[str, set] = defaultdict(set)
    count: dict[str, int] = defaultdict(int)
    example: dict[str, str] = {}
    for r, text in zip(keep, arr.take(pa.array(keep)).to_pylist(), strict=True):
        for sent in _SENTENCE.finditer(text):
            s = sent.group()
            spans = [(m.start(), m.end()) for m in rx.finditer(s)]
            if not spans:
                continue
            words = list(_WORD_PY.finditer(s))
            # each switch as (first word, last word): a name is counted in words
            # before the first or after the last, never inside ("Angebot von")
            at = [(sum(1 for w in words if w.end() <= a),
                   sum(1 for w in words if w.start() < b) - 1) for a, b in spans]
            for name, i in _names(words, lower_seen):
                gaps = [lo - i if i < lo else i - hi for lo, hi in at]
                if all(g > 0 for g in gaps) and min(gaps) <= settings.window:
                    seen[name].add(who[r])
                    count[name] += 1
                    example.setdefault(name, s.strip())
    rows = [(n, len(c), count[n], example[n]) for n, c in seen.items()
            if len(c) >= settings.min_customers]
    if rows and settings.competitors:  # names holding a listed competitor are known
        listed = set(find_mentions([r[0] for r in rows], settings, topics=False)["row"])
        rows = [r for k, r in enumerate(rows) if k not in listed]
    out = pd.DataFrame(rows, columns=["name", "customers", "texts", "evidence"])
    return out.sort_values(["customers", "name"], ascending=[False, True],
                           ignore_index=True)


def _names(words, lower_seen: set):
    """Runs of up to three capitalised words (a single one neither first in its
    sentence nor an ordinary word): (name, word position)."""
    run: list[str] = []
    start = 0
    for i, m in enumerate(words + [None]):
        w = None if m is None else m.group()
        ok = (w is not None and w[0].isupper()
              and w.lower() not in _NOT_NAMES and not any(ch.isdigit() for ch in w))
        if ok and len(run) < 3:
            if not run:
                start = i
            run.append(w)
            continue
        # one capitalised word also written in lower case is an ordinary word, and
        # one at the start of a sentence may be any word
        if run and not (len(run) == 1 and (start == 0 or run[0].lower() in lower_seen)):
            yield " ".join(run), start
        run = [w] if ok else []
        start = i


__all__ = ["Alias", "aliases_of", "edits_allowed", "find_mentions", "match_words",
           "propose_names"]
