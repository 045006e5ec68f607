"""The team's day: new exports from an inbox, scores, worklist and report, the model's
health, and a digest to each owner and the lead by e-mail or webhook
(:func:`run_day`; ``loyalist daily``; docs/daily.md)."""

from loyalist.daily.health import Health, calibration_gap, model_health
from loyalist.daily.inbox import InboxFile, ingest_inbox, table_for
from loyalist.daily.run import DayRun, Step, run_day
from loyalist.daily.send import Message, post_webhook, send_email

__all__ = ["DayRun", "Health", "InboxFile", "Message", "Step", "calibration_gap",
           "ingest_inbox", "model_health", "post_webhook", "run_day", "send_email",
           "table_for"]
