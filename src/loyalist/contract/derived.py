"""The tables Loyalist derives and keeps: their names, columns and types, declared once.

The input tables are declared in :mod:`loyalist.contract.schema`; the tables the
models and the worklist write are declared here. The store writes a derived table
only under a declared name, with exactly the declared columns, cast to the declared
types, so an empty result still has its types and a reader never meets a surprise.
``docs/derived-tables.md`` is generated from this module and checked by
``make lint``. The bookkeeping tables (worklist events, assignments, models) are
created by the store's migrations; a test checks that they match these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalist.contract.schema import STORAGE_TYPES, Column
from loyalist.errors import DataError

#: every kind of alert, in the order the worklist tries them
ALERT_KINDS = ("unanswered_request", "repeated_contact", "cancel_words", "competitor_words",
               "complaint_words", "not_acknowledged", "acknowledged_late",
               "late_against_promise", "not_followed_up", "detractor", "stay_in_touch")
#: alerts that are service the customer is owed: listed first, never held out
MUST_DO = ("unanswered_request", "repeated_contact", "not_acknowledged", "not_followed_up",
           "detractor")
#: the relationship segments (``relationship_segments.relationship_segment``): the four
#: with an action, then the rest
RELATIONSHIP_SEGMENTS = ("loyal advocate", "at-risk promoter", "silent promoter", "detractor",
                         "passive", "silent")


def _c(name: str, type: str, description: str, required: bool = True) -> Column:
    return Column(name, type, description, required=required)


@dataclass(frozen=True)
class Derived:
    """One derived (or bookkeeping) table: its name, what writes it, its columns."""

    name: str
    description: str
    written_by: str
    columns: tuple[Column, ...]
    #: appended run after run (histories), never replaced
    history: bool = False
    #: created by the store's migrations, not by write_derived
    bookkeeping: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def storage_types(self) -> dict[str, str]:
        return {c.name: STORAGE_TYPES[c.type] for c in self.columns}


CUSTOMER = _c("customer_id", "string", "The customer (matches `customers.id`).")
AS_OF = _c("as_of", "timestamp", "The moment the figures are as of.")
MODEL = _c("model_id", "integer", "The fitted model that made the row (`loyalist models`).")

#: what every table of the overview's figures is as of (the registry of derived tables
#: keeps when it was refreshed and, in its note, the settings it was computed with)
FIGURES = (AS_OF,)
_RATES = (_c("requests", "integer", "Requests opened."),
          _c("answered_share", "float", "Share answered."),
          _c("median_response_h", "float", "Median hours to the first response."),
          _c("p90_response_h", "float", "90th percentile of the hours to the first response."),
          _c("breach_share", "float", "Share past its first-response target."),
          _c("callback_rate", "float", "Share that are call-backs (a repeat contact)."),
          _c("misrouted_share", "float", "Share sent to another team than the category's "
             "(when [service] maps categories to teams).", False))
_LOSS = (_c("at_risk", "integer", "Customers at risk of leaving in the period."),
         _c("lost", "integer", "Customers lost in the period."),
         _c("revenue_at_risk", "float", "Their revenue."),
         _c("revenue_lost", "float", "Revenue of those lost."),
         _c("loss_rate", "float", "lost / at_risk."),
         _c("revenue_loss_rate", "float", "revenue_lost / revenue_at_risk."))
_BY = (_c("recorded_at", "timestamp", "When it was written.", False),
       _c("by_user", "string", "Who wrote it.", False))
#: the customer council's records (append-only; ``loyalist council``)
COUNCIL_TABLES = (
    Derived("_loyalist_council_members", "Members joining and leaving the customer "
            "council, as events.", "`loyalist council`", (
                _c("event_id", "integer", "Order of the events."), CUSTOMER,
                _c("event", "string", "joined or left."),
                _c("at", "timestamp", "When."),
                _c("why", "string", "Why they were invited.", False),
                _c("note", "string", "A note.", False), *_BY),
            history=True, bookkeeping=True),
    Derived("_loyalist_council_meetings", "Council meetings held.", "`loyalist council`", (
        _c("id", "string", "The meeting."), _c("held_at", "timestamp", "When it was held."),
        _c("title", "string", "Its title.", False), _c("note", "string", "A note.", False),
        *_BY), history=True, bookkeeping=True),
    Derived("_loyalist_council_attendance", "Who attended each meeting.",
            "`loyalist council`", (
                _c("meeting_id", "string", "The meeting."), CUSTOMER, *_BY),
            history=True, bookkeeping=True),
    Derived("_loyalist_council_points", "Points raised at meetings.", "`loyalist council`", (
        _c("id", "string", "The point."), _c("meeting_id", "string", "The meeting."),
        _c("customer_id", "string", "The member who raised it.", False),
        _c("text", "string", "What was said."), *_BY), history=True, bookkeeping=True),
    Derived("_loyalist_council_commitments", "Commitments made to the council, as events "
            "(made; closed with \"you said, we did\").", "`loyalist council`", (
                _c("event_id", "integer", "Order of the events."),
                _c("commitment_id", "string", "The commitment."),
                _c("event", "string", "made or closed."),
                _c("at", "timestamp", "When."),
                _c("meeting_id", "string", "The meeting it was made at.", False),
                _c("point_id", "string", "The point it answers.", False),
                _c("customer_id", "string", "The member it was made to.", False),
                _c("text", "string", "What was promised.", False),
                _c("owner", "string", "Who keeps it.", False),
                _c("due_at", "timestamp", "When it is due.", False),
                _c("you_said", "string", "What the members said (on closing).", False),
                _c("we_did", "string", "What was done (on closing).", False), *_BY),
            history=True, bookkeeping=True),
    Derived("_loyalist_audit", "Every write made through the web app or the store's "
            "privacy operations, with who and when (erasures name a digest, never the "
            "customer).", "the web app, `loyalist customer erase`", (
                _c("id", "integer", "Order of the entries."),
                _c("at", "timestamp", "When.", False),
                _c("user_name", "string", "Who.", False),
                _c("action", "string", "What was done."),
                _c("target", "string", "On what.", False),
                _c("detail", "string", "JSON: the details.", False),
                _c("ip", "string", "From where.", False)),
            history=True, bookkeeping=True),
)
#: the overview's figures, written together by :func:`loyalist.decisions.overview.refresh`
OVERVIEW_FIGURES = (
    Derived("service_summary", "Responsiveness over every request: the overview's service "
            "figures (requests unanswered now are counted live).",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                *_RATES,
                _c("misrouting_delay_h", "float", "Extra median hours of misrouted requests.",
                   False),
                _c("median_response_business_h", "float", "Median first response in working "
                   "hours ([calendar]).", False),
                _c("breach_share_business", "float", "Share past target in working hours.",
                   False),
                *FIGURES)),
    Derived("service_monthly", "Responsiveness by month the requests were opened.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("month", "timestamp", "First day of the month."), *_RATES, *FIGURES)),
    Derived("loss_trailing", "Customers and revenue lost over the trailing months.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                *_LOSS, _c("active_now", "integer", "Customers active at the end."),
                _c("months", "integer", "Months looked back."),
                _c("mode", "string", "lapse (orders) or contract (subscriptions)."),
                _c("horizon_days", "integer", "Days without an order that count as lapsed "
                   "(lapse mode).", False),
                *FIGURES)),
    Derived("loss_monthly", "Loss rates by month.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("period", "timestamp", "First day of the month."), *_LOSS,
                _c("annualised_loss_rate", "float", "The loss rate over a year at this pace."),
                _c("annualised_revenue_loss_rate", "float", "The same for revenue."),
                *FIGURES)),
    Derived("cohort_retention", "Kaplan-Meier retention of each acquisition cohort by "
            "months since it was acquired.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("cohort", "timestamp", "First day of the cohort's quarter."),
                _c("months", "integer", "Months since acquisition."),
                _c("days", "float", "The same in days."),
                _c("retained", "float", "Share still a customer."),
                _c("at_risk", "integer", "Customers still observed."),
                _c("customers", "integer", "Customers in the cohort."), *FIGURES)),
    Derived("value_at_risk", "Value expected to leave: sum of P(leave) x value over the "
            "scored customers.", "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("customers", "integer", "Customers scored."),
                _c("expected_leavers", "float", "Sum of P(leave)."),
                _c("value", "float", "Their total value."),
                _c("value_at_risk", "float", "Value expected to leave."),
                _c("share_at_risk", "float", "value_at_risk / value.", False), *FIGURES)),
    Derived("nps_summary", "Net promoter score and survey averages over every answer.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("answers", "integer", "Answers with an NPS."),
                _c("nps", "float", "% promoters (9-10) minus % detractors (0-6)."),
                _c("promoters", "float", "Share of promoters."),
                _c("detractors", "float", "Share of detractors."),
                _c("trust", "float", "Average trust.", False),
                _c("satisfaction", "float", "Average satisfaction.", False), *FIGURES)),
    Derived("nps_monthly", "Net promoter score by month of the answers.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("month", "timestamp", "First day of the month."),
                _c("nps", "float", "% promoters minus % detractors."),
                _c("answers", "integer", "Answers with an NPS."),
                _c("trust", "float", "Average trust.", False),
                _c("satisfaction", "float", "Average satisfaction.", False), *FIGURES)),
    Derived("worth_saving", "The customers worth saving, most value expected to leave first "
            "(still customers, not already gone by either definition); the overview shows "
            "the first ten with their open item and owner, read when the page is built.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("rank", "integer", "1 = the most value expected to leave."), CUSTOMER,
                _c("p_leave", "float", "Probability of leaving (the scores)."),
                _c("value", "float", "The customer's value (see `worth_saving_summary`)."),
                _c("value_at_risk", "float", "p_leave x value."),
                _c("top_reason", "string", "Their strongest whisper.", False),
                _c("alarm_kind", "string", "Kind of their latest alarm-level alert.", False),
                _c("alarm", "string", "That alert in words.", False),
                _c("alarms", "integer", "Alarm-level alerts they carry.", False), *FIGURES)),
    Derived("worth_saving_summary", "How many customers are worth saving and the alarm "
            "summary: customers with any alert, with an alarm, those the team works this "
            "week ([alerts] weekly_capacity) and the rest.",
            "`loyalist score`, `loyalist.decisions.overview.refresh`", (
                _c("customers", "integer", "Customers worth saving."),
                _c("value_is", "string", "What value means here."),
                _c("scored", "integer", "Customers scored.", False),
                _c("with_any", "integer", "Scored customers with any alert.", False),
                _c("with_alarm", "integer", "Of them with an alarm-level alert.", False),
                _c("valuable_with_alarm", "integer", "Of those, valuable ones ([alerts] "
                   "valuable_share).", False),
                _c("share_any", "float", "with_any / scored.", False),
                _c("share_alarm", "float", "with_alarm / scored.", False),
                _c("this_week", "integer", "Alarm-level customers worked this week.", False),
                _c("rest", "integer", "Alarm-level customers waiting.", False),
                _c("weekly_capacity", "integer", "[alerts] weekly_capacity.", False),
                _c("weighed", "boolean", "Whether the alert kinds were weighed.", False),
                *FIGURES)),
)

DERIVED: dict[str, Derived] = {d.name: d for d in (
    Derived("scores", "P(leave) of every customer still active at the run's date, with the "
            "top reason and the number of alerts; P(promoter) when feedback allows.",
            "`loyalist score`", (
                CUSTOMER, AS_OF,
                _c("p_leave", "float", "Probability of leaving within the horizon."),
                MODEL,
                _c("top_reason", "string", "The first whisper, in words.", False),
                _c("alerts", "integer", "Open alerts of the customer.", False),
                _c("p_promoter", "float", "Probability of being a promoter (NPS 9-10), "
                   "learned from those who answered and given to everyone.", False),
                _c("silent", "boolean", "The customer never answered a survey.", False))),
    Derived("score_history", "Every run's P(leave) per customer, kept so risk can be "
            "followed over time.", "`loyalist score` (appended)", (
                CUSTOMER, AS_OF, _c("p_leave", "float", "Probability of leaving."), MODEL,
                _c("top_reason", "string", "The first whisper of that run.", False)),
            history=True),
    Derived("reasons", "The whispers behind each score: up to three per customer, in "
            "words, with the rows that back them.", "`loyalist score`", (
                CUSTOMER,
                _c("rank", "integer", "1 for the strongest reason."),
                _c("family", "string", "What the reason is about (purchase, service, "
                   "feedback, ...)."),
                _c("contribution", "float", "Its share of the customer's log-odds of "
                   "leaving.", False),
                _c("text", "string", "The reason in words, with its evidence."),
                _c("evidence", "string", "The rows that back it: `table:id,id`.", False),
                MODEL)),
    Derived("alerts", "Service failures and signals that need no model, each naming its "
            "evidence row.", "`loyalist score`", (
                CUSTOMER,
                _c("kind", "string", "One of: " + ", ".join(f"`{k}`" for k in ALERT_KINDS)
                   + "."),
                _c("evidence_table", "string", "The table of the row that shows it."),
                _c("evidence_id", "string", "That row's id."),
                _c("at", "timestamp", "When it happened.", False),
                _c("value", "float", "Hours waited, contacts made, score given...", False),
                _c("category", "string", "What it is about.", False),
                _c("text", "string", "The alert in words."),
                _c("must_do", "boolean", "Service the customer is owed (listed first, never "
                   "held out)."),
                AS_OF,
                _c("level", "string", "alarm (the kind predicts leaving, see "
                   "`alert_weights`), housekeeping or not weighed.", False))),
    Derived("alert_weights", "Each alert kind weighed on the firm's own history: how much "
            "more often customers with it left than comparable customers without it, at a "
            "past date whose outcomes are known.", "`loyalist score`, "
            "`loyalist.decisions.signals.alert_weights.weigh_alerts`", (
                _c("kind", "string", "The alert kind."),
                _c("customers_with", "integer", "Customers with the kind at the past date."),
                _c("left_with", "integer", "Of them, those who left within the horizon."),
                _c("customers_without", "integer", "Customers without it."),
                _c("left_without", "integer", "Of them, those who left."),
                _c("share_left_with", "float", "left_with / customers_with.", False),
                _c("share_left_without", "float", "left_without / customers_without.",
                   False),
                _c("crude_ratio", "float", "share_left_with / share_left_without.", False),
                _c("risk_ratio", "float", "Mantel-Haenszel risk ratio over comparable "
                   "groups (fifths of days since the last order).", False),
                _c("ratio_low", "float", "Lower end of its 95% interval.", False),
                _c("ratio_high", "float", "Upper end of its 95% interval.", False),
                _c("level", "string", "alarm, housekeeping or not weighed ([alerts])."),
                _c("measured_at", "timestamp", "The past date the alerts were raised at."),
                _c("horizon_days", "integer", "Days after it in which leaving was counted."),
                _c("comparable", "string", "Who the customers were compared with."),
                AS_OF)),
    Derived("customer_value", "P(alive), expected purchases and lifetime value of every "
            "customer with orders, from the value model.", "`loyalist value`, "
            "`loyalist.decisions.value.value_customers`", (
                CUSTOMER,
                _c("frequency", "float", "Repeat purchases in the calibration period."),
                _c("recency_weeks", "float", "Weeks from the first to the last purchase."),
                _c("age_weeks", "float", "Weeks from the first purchase to the end."),
                _c("monetary_value", "float", "Average spend of the repeat purchases.",
                   False),
                _c("p_alive", "float", "Probability the customer is still a customer."),
                _c("expected_purchases", "float", "Purchases expected over the horizon."),
                _c("clv", "float", "Discounted margin expected over the horizon.", False),
                _c("model", "string", "The value model that made the row."))),
    Derived("uplift_scores", "Per customer scored and playbook whose uplift is in force: "
            "how much a contact changes P(stay), learned from the worklist's hold-outs, and "
            "the expected value it saves; the worklist ranks by it.", "`loyalist uplift`, "
            "`loyalist.team.fit_uplift`", (
                CUSTOMER,
                _c("playbook", "string", "The playbook whose hold-outs taught the model."),
                AS_OF,
                _c("uplift", "float", "Predicted change in P(stay) from a contact."),
                _c("value", "float", "Value at stake (CLV, else spend in the last 365 days)."),
                _c("expected_value_saved", "float", "uplift x value."),
                _c("qini", "float", "The model's Qini coefficient on held-out hold-outs."),
                _c("method", "string", "x-learner or two-model."))),
    Derived("department_losses", "Per period and department: the lost customers' revenue "
            "attributed to the department's failures by the excess-hazard model (stayers "
            "included), beside the naive share, the stayers' rate of the same failures and "
            "the loss target. Failure-based: the stated reasons are a separate source.",
            "`loyalist team --losses`, `loyalist.team.department_losses`", (
                _c("period", "string", "The period the customers were lost in."),
                _c("department", "string", "The department ([departments] names), or no "
                   "department, or unassigned."),
                _c("lost_customers", "integer", "Customers lost in the period."),
                _c("lost_revenue", "float", "Their yearly revenue."),
                _c("met_lost", "integer", "Lost customers who met the department's failures "
                   "in the window.", False),
                _c("met_lost_share", "float", "Their share of the lost customers.", False),
                _c("met_stayers_share", "float", "Share of customer-months of customers who "
                   "stayed with the same failures in the window.", False),
                _c("attributed_customers", "float", "Lost customers attributed (expected)."),
                _c("attributed_revenue", "float", "Lost revenue attributed."),
                _c("share_of_lost_revenue", "float", "attributed / lost revenue.", False),
                _c("share_low", "float", "Low end of the 90% interval on the share (the "
                   "fit's bootstrap and the draw of each loss's cause).", False),
                _c("share_high", "float", "High end of that interval.", False),
                _c("overall_share_low", "float", "The same interval for every period "
                   "together (repeated on each row of the department).", False),
                _c("overall_share_high", "float", "Its high end.", False),
                _c("naive_share", "float", "Share blaming every failure a lost customer met.",
                   False),
                _c("revenue_at_risk", "float", "Yearly revenue of the customers at the "
                   "period's start."),
                _c("annual_loss_rate", "float", "The period's revenue loss rate, annualised.",
                   False),
                _c("annual_attributable_rate", "float", "The part of it attributed to the "
                   "department, annualised.", False),
                AS_OF)),
    Derived("relationship_segments", "Each customer's relationship segment (loyal advocate, "
            "at-risk promoter, silent promoter, detractor) with what they said, what their "
            "behaviour predicts, and what to do.", "`loyalist relationship`", (
                CUSTOMER, AS_OF,
                _c("p_promoter", "float", "P(would recommend), from behaviour and answers."),
                _c("silent", "boolean", "Never answered a survey."),
                _c("said_nps", "float", "Their latest NPS answer.", False),
                _c("said_at", "timestamp", "When they said it.", False),
                _c("said_trust", "float", "Their latest trust score (scale mean).", False),
                _c("said_commitment", "float", "Their latest commitment score.", False),
                _c("predicted_trust", "float", "Trust predicted from behaviour.", False),
                _c("predicted_commitment", "float", "Commitment predicted from behaviour.",
                   False),
                _c("p_leave", "float", "P(leave within the leaving horizon) from behaviour.",
                   False),
                _c("p_gone_quiet", "float", "P(gone quiet): no sign of life since their "
                   "orders stopped, though they still look active.", False),
                _c("relationship_segment", "string", "One of: " + ", ".join(
                    RELATIONSHIP_SEGMENTS) + "."),
                _c("at_risk_threshold", "float", "The P(leave) from which a promoter is at "
                   "risk.", False),
                _c("why", "string", "Why, in words.", False),
                _c("action", "string", "What to do.", False),
                _c("script", "string", "What to say.", False),
                _c("due_in_days", "float", "Days allowed.", False),
                _c("owner_rule", "string", "account_manager or team.", False),
                _c("team", "string", "The team when no account manager.", False),
                _c("p_lapse", "float", "The early-warning P(leave), when scored.", False))),
    Derived("relationship_summary", "The last relationship analysis as the web page shows "
            "it (one row): reliability, want vs deliver, drivers, segments and findings.",
            "`loyalist relationship`", (
                _c("survey", "string", "The survey analysed."),
                _c("as_of", "timestamp", "The date of the segments.", False),
                _c("computed_at", "timestamp", "When the analysis ran."),
                _c("responses", "integer", "Responses analysed."),
                _c("customers", "integer", "Customers given a segment."),
                _c("data", "string", "The analysis as JSON "
                   "(`loyalist.relationship.page_data`)."))),
    Derived("worklist_backlog", "The worklist's candidates waiting beyond today's caps "
            "(one per customer and matter), in the order they will be opened.",
            "`loyalist worklist`", (
                _c("as_of", "timestamp", "The day of the run."),
                CUSTOMER,
                _c("playbook", "string", "The playbook it waits for."),
                _c("matter", "string", "request, order or customer."),
                _c("must_do", "boolean", "Service the customer is owed."),
                _c("owner", "string", "Who will get it.", False),
                _c("why", "string", "Why, in words.", False),
                _c("expected_value_saved", "float", "Ranking figure.", False),
                _c("since", "timestamp", "The oldest evidence (e.g. the unanswered "
                   "request), when known.", False),
                _c("waiting_since", "timestamp", "The first run it waited in."),
                _c("place", "integer", "Its place in the queue of its playbook and "
                   "owner."))),
    Derived("daily_runs", "Every step of every `loyalist daily` run: what it did, whether "
            "it worked, and the day's figures, so a re-run on the same day repeats nothing "
            "that worked.", "`loyalist daily` (appended)", (
                _c("run_id", "integer", "The run (one `loyalist daily`)."),
                _c("day", "timestamp", "The day the run is for."),
                _c("step", "string", "inbox, score, worklist, report, health or send."),
                _c("status", "string", "ok, failed or skipped."),
                _c("summary", "string", "What the step did, in one line."),
                _c("data", "string", "The step's figures as JSON.", False),
                _c("started_at", "timestamp", "When the step started."),
                _c("finished_at", "timestamp", "When it finished.", False)),
            history=True),
    Derived("daily_files", "Every file the daily run found in the inbox, by content hash: "
            "a file ingested once is never ingested again, whatever its name.",
            "`loyalist daily` (appended)", (
                _c("sha256", "string", "The file's content hash."),
                _c("file", "string", "The file's name when seen."),
                _c("table_name", "string", "The table it went to.", False),
                _c("day", "timestamp", "The day of the run that saw it."),
                _c("status", "string", "ingested or failed."),
                _c("ingest_id", "integer", "The ingest (`loyalist ingest --undo`).", False),
                _c("rows_read", "integer", "Rows read.", False),
                _c("inserted", "integer", "Rows new to the store.", False),
                _c("rejected", "integer", "Rows rejected (`loyalist rejects`).", False),
                _c("detail", "string", "Why it failed, or the ingest in words.", False),
                _c("seen_at", "timestamp", "When it was read.")),
            history=True),
    Derived("daily_messages", "Every digest message the daily run sent or tried: owners' "
            "lists, the lead's summary, model-health alerts; one sent message per day, "
            "kind, recipient and channel.", "`loyalist daily` (appended)", (
                _c("day", "timestamp", "The day of the digest."),
                _c("kind", "string", "owner, lead or admin."),
                _c("recipient", "string", "The owner (staff id or team), lead or admin."),
                _c("channel", "string", "email or webhook."),
                _c("address", "string", "Where it went (e-mail address or webhook host).",
                   False),
                _c("subject", "string", "The subject line."),
                _c("status", "string", "sent or failed."),
                _c("detail", "string", "Why it failed.", False),
                _c("sent_at", "timestamp", "When it was sent or tried.")),
            history=True),
    Derived("model_health", "Each daily check of the latest churn model on the newest "
            "settled period (the outcome known): ROC AUC and calibration against the "
            "[daily] thresholds.", "`loyalist daily` (appended)", (
                _c("day", "timestamp", "The day of the check."),
                MODEL,
                _c("eval_date", "timestamp", "The settled period's date (data end minus "
                   "the horizon)."),
                _c("horizon_days", "integer", "The model's horizon."),
                _c("customers", "integer", "Customers scored at the date."),
                _c("left", "integer", "Of them, how many left within the horizon."),
                _c("roc_auc", "float", "ROC AUC of the model on them.", False),
                _c("reference_auc", "float", "The model's own held-out ROC AUC at "
                   "fitting.", False),
                _c("calibration_gap", "float", "Expected calibration error by decile.",
                   False),
                _c("mean_predicted", "float", "Mean P(leave).", False),
                _c("observed", "float", "Share that left.", False),
                _c("calibration_noise", "float", "The calibration gap chance alone gives "
                   "(95%, outcomes drawn from the predictions).", False),
                _c("out_of_sample", "boolean", "The model never saw these outcomes (else "
                   "the check is in sample and never alerts)."),
                _c("alert", "boolean", "A threshold was crossed."),
                _c("why", "string", "The thresholds crossed, in words.", False),
                _c("note", "string", "What limits the check.", False)),
            history=True),
    Derived("_loyalist_worklist", "The worklist's memory: every item as a series of "
            "events (`opened`, `attempt`, `assigned`, `snoozed`, `reasons`, `closed`), "
            "appended, never updated.",
            "`loyalist worklist`, `loyalist log`", (
                _c("event_id", "integer", "Order of the events."),
                _c("item_id", "string", "The item (`W` and a number)."),
                _c("event", "string", "opened, attempt, assigned, snoozed, reasons (new "
                   "reasons merged into the open item) or closed."),
                _c("at", "timestamp", "When it happened.", False),
                _c("recorded_at", "timestamp", "When it was written.", False),
                _c("run_id", "integer", "The worklist run that wrote it.", False),
                CUSTOMER,
                _c("playbook", "string", "The playbook of the item."),
                _c("reason_kind", "string", "The alert kind or whisper behind it.", False),
                _c("must_do", "boolean", "Service the customer is owed.", False),
                _c("why", "string", "Why, in words.", False),
                _c("evidence", "string", "The rows that back it.", False),
                _c("action", "string", "What to do.", False),
                _c("script", "string", "What to say.", False),
                _c("owner", "string", "Who should do it.", False),
                _c("p_leave", "float", "P(leave) when opened.", False),
                _c("value", "float", "Value at stake when opened.", False),
                _c("expected_value_saved", "float", "Ranking figure when opened.", False),
                _c("due_at", "timestamp", "When it is due.", False),
                _c("outcome", "string", "The outcome that closed it.", False),
                _c("touch_id", "string", "The touch that answered it.", False),
                _c("note", "string", "What was said.", False),
                _c("matter", "string", "What the item is about: request, order or "
                   "customer (one open item per customer and matter).", False),
                _c("also", "string", "Other playbooks whose reasons merged into the item.",
                   False),
                _c("matter_id", "string", "The request or order the item is about (its "
                   "id; empty for the customer as a whole): `loyalist log` records it on "
                   "the touch.", False),
                _c("until", "timestamp", "Snoozed until (a `snoozed` event).", False),
                _c("by_user", "string", "Who assigned or snoozed it.", False)),
            history=True, bookkeeping=True),
    Derived("_loyalist_assignments", "Treatment or control, drawn per customer and "
            "playbook when first eligible, and held for the window.",
            "`loyalist worklist`", (
                CUSTOMER,
                _c("playbook", "string", "The playbook."),
                _c("arm", "string", "treatment or control."),
                _c("assigned_at", "timestamp", "The day of the draw."),
                _c("recorded_at", "timestamp", "When it was written.", False),
                _c("run_id", "integer", "The worklist run.", False),
                _c("share", "float", "The share held out.", False),
                _c("seed", "integer", "Seed of the draw.", False),
                _c("p_leave", "float", "P(leave) at the draw.", False),
                _c("value", "float", "Value at stake at the draw.", False)),
            history=True, bookkeeping=True),
    Derived("_loyalist_models", "Every fitted model (churn, advocacy, router, value), with "
            "what it was trained on and how well it did.", "`score`, `value`, `route "
            "--train` (`loyalist models` lists them)", (
                _c("id", "integer", "The model's number."),
                _c("kind", "string", "churn, advocacy, router, value..."),
                _c("created_at", "timestamp", "When it was fitted.", False),
                _c("info", "string", "JSON: training dates and rows, data range, metrics, "
                   "features.", False),
                _c("payload", "blob", "The fitted model (pickled).", False)),
            history=True, bookkeeping=True),
    *COUNCIL_TABLES,
    *OVERVIEW_FIGURES,
)}


def get_derived(name: str) -> Derived:
    """The declaration of derived table ``name``, or a DataError naming the known ones."""
    try:
        return DERIVED[name]
    except KeyError:
        raise DataError(f"{name!r} is not a declared derived table.",
                        hint="Declare it in loyalist.contract.derived (names, columns and "
                        "types), then write it; declared: "
                        + ", ".join(n for n, d in DERIVED.items() if not d.bookkeeping)
                        + ".") from None


def check_writable(name: str, given, *, bookkeeping: bool = False) -> Derived:
    """The declaration of derived table ``name`` if data with columns ``given`` may be
    written to it: a declared, non-bookkeeping table, no column beyond the declared
    ones, every required one present. Otherwise a DataError naming the columns. Every
    engine's store checks writes here, before anything is written."""
    from loyalist.contract.schema import TABLES

    declared = get_derived(name)
    if declared.bookkeeping != bookkeeping or name in TABLES:
        raise DataError(f"Cannot write {name!r} as a derived table.",
                        hint="It is kept by the store itself.")
    given = list(given)
    extra = [c for c in given if c not in declared.names]
    missing = [c.name for c in declared.columns if c.required and c.name not in given]
    if extra or missing:
        raise DataError(
            f"{name}: " + "; ".join(
                ([f"columns not declared: {', '.join(extra)}"] if extra else [])
                + ([f"declared columns missing: {', '.join(missing)}"] if missing else []))
            + ".", hint="Write exactly the columns declared in loyalist.contract.derived "
            "(or declare the new ones there).")
    return declared
