"""Listening: the competition in customers' own words, and why customers left.

* :func:`find_mentions`: the firm's competitors (``[listening] competitors``, with
  aliases and misspellings, in any language) in requests, feedback comments and notes,
  each with its topic (price, offer, product, service) and evidence sentence;
* :func:`propose_names`: capitalised names near switching words that the list lacks,
  for the firm to confirm.
"""

from loyalist.listening.mentions import aliases_of, edits_allowed, find_mentions, propose_names

__all__ = ["aliases_of", "edits_allowed", "find_mentions", "propose_names"]
