"""Listening: the competition in customers' own words, and why customers left.

* :func:`find_mentions`: the firm's competitors (``[listening] competitors``, with
  aliases and misspellings, in any language) in requests, feedback comments and notes,
  each with its topic (price, offer, product, service) and evidence sentence;
* :func:`propose_names`: capitalised names near switching words that the list lacks,
  for the firm to confirm;
* :func:`gather`, :func:`competitor_mentions`, :func:`proposed_competitors`: the same
  over the firm's requests, feedback and the team's notes;
* :func:`loss_reasons`, :func:`reasons_by`: why lost customers left (logged by the
  team, else suggested from their last words, else unknown), by period and segment.
"""

from loyalist.listening.mentions import aliases_of, edits_allowed, find_mentions, propose_names
from loyalist.listening.reasons import UNKNOWN, loss_reasons, macro_f1, reasons_by
from loyalist.listening.texts import competitor_mentions, gather, proposed_competitors

__all__ = ["UNKNOWN", "aliases_of", "competitor_mentions", "edits_allowed", "find_mentions",
           "gather", "loss_reasons", "macro_f1", "propose_names", "proposed_competitors",
           "reasons_by"]
