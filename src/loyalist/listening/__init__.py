"""Listening: the competition in customers' own words, and why customers left.

* :func:`find_mentions`: the firm's competitors (``[listening] competitors``, with
  aliases and misspellings, in any language) in requests, feedback comments and notes,
  each with its topic (price, offer, product, service) and evidence sentence;
* :func:`propose_names`: capitalised names near switching words that the list lacks,
  for the firm to confirm;
* :func:`gather`, :func:`competitor_mentions`, :func:`proposed_competitors`: the same
  over the firm's requests, feedback and the team's notes;
* :func:`loss_reasons`, :func:`reasons_by`: why lost customers left (logged by the
  team, else suggested from their last words, else unknown), by period and segment;
* :func:`listen` and :func:`loss_reasons_of`: all of it on a store, with trends per
  competitor, the share of lost customers and revenue behind each, and whispers;
  :func:`listening` both, as ``loyalist listening`` and the ``/listening`` page show.
"""

from loyalist.listening.analysis import (
    Listening,
    ListeningReport,
    competitor_whispers,
    listen,
    listening,
    loss_reasons_of,
    lost_to_competitors,
    mention_trends,
)
from loyalist.listening.mentions import aliases_of, edits_allowed, find_mentions, propose_names
from loyalist.listening.reasons import (
    UNKNOWN,
    loss_reasons,
    macro_f1,
    reasons_by,
    reasons_by_department,
    reasons_overall,
)
from loyalist.listening.texts import competitor_mentions, gather, proposed_competitors

__all__ = ["UNKNOWN", "Listening", "ListeningReport", "aliases_of", "competitor_mentions",
           "competitor_whispers", "edits_allowed", "find_mentions", "gather", "listen", "listening", "loss_reasons",
           "loss_reasons_of", "lost_to_competitors", "macro_f1", "mention_trends",
           "propose_names", "proposed_competitors", "reasons_by", "reasons_by_department",
           "reasons_overall"]
