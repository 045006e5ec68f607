"""Words of the synthetic firm: names, teams, request templates and survey comments.

The firm is a supplier of office and workshop goods to other businesses, with an
optional subscription to its ordering portal. ``{ref}`` in a template is filled with
an order, invoice, product or competitor name.
"""

from __future__ import annotations

SURNAMES = (
    "Harper", "Okafor", "Lindqvist", "Moreau", "Patel", "Kowalski", "Nakamura", "Fischer",
    "Brennan", "Alvarez", "Schmidt", "Dubois", "Rossi", "Novak", "Jensen", "Costa",
    "Walsh", "Haddad", "Berg", "Kim", "Murphy", "Silva", "Weber", "Larsen", "Quinn",
    "Santos", "Bauer", "Ivanova", "Chen", "Olsen", "Byrne", "Keller",
)
TRADES = (
    "Bakery", "Dental", "Garage", "Studio", "Logistics", "Printing", "Cafe", "Clinic",
    "Joinery", "Architects", "Pharmacy", "Builders", "Consulting", "Florist", "Opticians",
    "Engineering", "Salon", "Veterinary", "Accountants", "Electrics",
)
SUFFIXES = ("Ltd", "& Co", "Group", "& Sons", "Partners", "GmbH", "LLC", "")

OWNERS = (
    "Alice Moreau", "Ben Okafor", "Chloe Novak", "David Park",
    "Elena Rossi", "Farid Haddad", "Grace Liu", "Hannah Berg",
)
#: the staff: account managers first, then the agents of each team, with their ids
STAFF = (
    [(f"E{i + 1:02d}", name, "Account management") for i, name in enumerate(OWNERS)]
)
SEGMENTS = ("small", "medium", "key account")
REGIONS = ("North", "South", "East", "West", "Central")
ACQUIRED_VIA = ("web", "referral", "field sales", "partner", "trade fair")
PLANS = ("Basic", "Plus", "Pro")
PLAN_MRR = (49.0, 119.0, 299.0)
CHANNELS = ("phone", "email", "chat", "web form")
PRODUCTS = (
    "A4 copy paper", "toner cartridges", "safety gloves", "label printer", "desk chairs",
    "cleaning supplies", "cable ties", "storage boxes", "coffee machine", "first aid kits",
    "hand tools", "LED panels",
)
FEATURES = ("the ordering portal", "the invoice export", "the mobile app", "single sign-on",
            "the stock alerts", "the API integration")
COMPETITORS = ("Brightline Supply", "OfficeNow", "Kestrel Direct", "ValuMart Pro")
#: the demo firm's list of competitors with their aliases (``[listening] competitors``)
COMPETITOR_ALIASES = {
    "Brightline Supply": ["Brightline", "BL Supply"],
    "OfficeNow": ["Office Now"],
    "Kestrel Direct": ["Kestrel"],
    "ValuMart Pro": ["ValuMart", "Valu Mart"],
}

CATEGORIES = (
    "billing", "delivery", "product", "technical", "account", "sales", "complaint",
    "cancellation",
)
#: The team each category belongs to. Requests routed elsewhere are misrouted.
CATEGORY_TEAM = {
    "billing": "Finance",
    "delivery": "Logistics",
    "product": "Customer Care",
    "technical": "Tech Support",
    "account": "Customer Care",
    "sales": "Sales",
    "complaint": "Customer Care",
    "cancellation": "Retention",
}
TEAMS = ("Finance", "Logistics", "Customer Care", "Tech Support", "Sales", "Retention")
AGENTS = {
    "Finance": ("Ines Duarte", "Tom Becker", "Priya Nair"),
    "Logistics": ("Marek Zielinski", "Sofia Lund", "Owen Hughes", "Ana Ruiz"),
    "Customer Care": ("Lena Vogel", "Sam Carter", "Yuki Sato", "Noah Evans", "Mia Conti"),
    "Tech Support": ("Ravi Menon", "Julia Krause", "Leo Martin"),
    "Sales": ("Oscar Lind", "Emma Wright", "Diego Romero"),
    "Retention": ("Clara Stein", "Hugo Blanc"),
}
STAFF += [(f"E{len(STAFF) + k + 1:02d}", name, team) for k, (team, name) in enumerate(
    (team, name) for team in TEAMS for name in AGENTS[team])]
OWNER_IDS = tuple(sid for sid, _n, _t in STAFF[:len(OWNERS)])
AGENT_IDS = tuple(sid for sid, _n, _t in STAFF[len(OWNERS):])

#: (subject, body) templates per category; {ref} is filled per category (see REF_KIND).
TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "billing": (
        ("Question about invoice {ref}", "I have a question about invoice {ref}. The total "
         "does not match the quote we agreed."),
        ("Invoice {ref} charged twice", "It looks like we were charged twice for invoice "
         "{ref}. Can you check and refund the duplicate?"),
        ("VAT number on invoices", "Our VAT number is missing on the last invoices, we need "
         "corrected copies for our accountant."),
        ("Payment terms", "Could we move to 60 day payment terms? Please let me know what "
         "is possible."),
        ("Credit note {ref}", "We returned part of the order but have not received a credit "
         "note for invoice {ref} yet."),
        ("Wrong billing address", "The billing address on invoice {ref} is our old office, "
         "please update it."),
    ),
    "delivery": (
        ("Where is order {ref}?", "Order {ref} was due yesterday and has not arrived. "
         "Can you tell me where it is?"),
        ("Order {ref} incomplete", "We received order {ref} but two items are missing from "
         "the delivery."),
        ("Damaged delivery", "Part of order {ref} arrived damaged, the boxes were crushed. "
         "How do we get replacements?"),
        ("Change delivery date", "Can order {ref} be delivered on Friday instead? Nobody is "
         "at the site on Thursday."),
        ("Tracking number", "I have not received a tracking number for order {ref}."),
    ),
    "product": (
        ("Question about {ref}", "Do you have {ref} in a larger size, and what is the "
         "lead time?"),
        ("Specifications of {ref}", "Could you send me the technical data sheet for the {ref}?"),
        ("Alternative to {ref}", "The {ref} we usually buy is out of stock. What would you "
         "recommend instead?"),
        ("Bulk availability", "Can you supply 500 units of {ref} by the end of the month?"),
        ("Product recall?", "I heard there is a recall on some {ref}. Does it affect our "
         "last order?"),
    ),
    "technical": (
        ("Cannot log in", "I cannot log in to {ref}, it says my password is wrong after the "
         "reset."),
        ("Error in {ref}", "Our account in {ref} shows an error when I try to place an order from a saved "
         "list."),
        ("Slow response in {ref}", "Since Monday {ref} has been very slow, pages take a minute "
         "to load."),
        ("Integration question", "How do we connect our purchasing system to {ref}? Is there "
         "documentation?"),
        ("Missing data in {ref}", "Last month's orders are missing in {ref}."),
    ),
    "account": (
        ("Add a user", "Please add a new colleague to our account so she can place orders."),
        ("Change of contact person", "Our purchasing contact has changed, please update our "
         "account details."),
        ("New delivery address", "We are opening a new site and need a second delivery "
         "address on the account."),
        ("Account statement", "Could you send us a statement of our account for the last "
         "quarter?"),
    ),
    "sales": (
        ("Quote for {ref}", "Please send us a quote for {ref}, around 200 units."),
        ("Volume discount", "We are planning to order more {ref} next year. Do you offer "
         "volume discounts?"),
        ("Upgrade our plan", "We are interested in upgrading our plan. What does the next "
         "tier include?"),
        ("Samples of {ref}", "Could you send samples of {ref} before we place a larger "
         "order?"),
    ),
    "complaint": (
        ("Unhappy with order {ref}", "We are not happy with order {ref}: wrong items and "
         "late. This keeps happening."),
        ("Rude driver", "The driver delivering order {ref} was rude to our staff."),
        ("Quality problem", "The quality of the last order {ref} was poor, several items "
         "broke on first use."),
        ("Complaint about service", "I have been passed between three people about order "
         "{ref} and nobody takes responsibility."),
    ),
    "cancellation": (
        ("Cancel order {ref}", "Please cancel order {ref}, we ordered the wrong items."),
        ("Cancel part of order", "Can we cancel part of order {ref} before it ships?"),
        ("Pause subscription", "We would like to pause our portal subscription during the "
         "summer closure."),
    ),
}
#: What fills {ref} per category: "order", "invoice", "product", "feature" or "".
REF_KIND = {
    "billing": "invoice", "delivery": "order", "product": "product", "technical": "feature",
    "account": "", "sales": "product", "complaint": "order", "cancellation": "order",
}

GREETINGS = ("", "Hello! ", "Hi. ", "Good morning. ", "Dear team: ", "Hi there! ", "")
CLOSINGS = ("", " Thanks.", " Thank you.", " Kind regards.", " Please advise.",
            " Thanks in advance.")

#: Openers of a call-back: the customer contacts again about the same matter.
CALLBACK_OPENERS = (
    "I am writing again about this. ",
    "Still waiting for an answer. ",
    "Second time asking: ",
    "Nobody got back to me, so again: ",
    "I called last week and this is still not sorted. ",
    "This is still open. ",
    "Following up on my earlier message. ",
    "Any news on this? ",
    "Chasing this up. ",
)
CALLBACK_SUBJECTS = ("Re: ", "Still waiting: ", "Again: ", "", "Fwd: ")

#: Churn reasons, in the order of the hazard's components.
REASONS = ("competitor", "price", "service", "needs_changed")

#: Requests of a drifting customer, per churn reason: (category, subject, body);
#: {ref} is a competitor's name.
DRIFT_TEMPLATES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "price": (
        ("billing", "Price increase", "Your prices have gone up again. {ref} quotes us less "
         "for the same items. Can you do anything on price?"),
        ("cancellation", "Contract terms", "The new rates are too expensive for us. Please "
         "send me the cancellation terms."),
        ("complaint", "Too expensive", "We can no longer justify what we pay you. {ref} is "
         "noticeably cheaper."),
    ),
    "competitor": (
        ("sales", "Comparing offers", "We have received an offer from {ref} and are comparing. "
         "What can you offer to keep our business?"),
        ("cancellation", "Switching supplier", "We are planning to switch to {ref} next "
         "quarter. How do we close our account?"),
        ("complaint", "Other options", "Honestly we are looking at other suppliers, {ref} has "
         "been in touch with us."),
    ),
    "service": (
        ("complaint", "Nobody answers", "This is not the first time nobody answers us. Very "
         "disappointed with your service lately, we are considering other options."),
        ("complaint", "Unacceptable service", "Still no reply about my last issue. This is "
         "unacceptable, we are thinking about cancelling."),
        ("cancellation", "Cancel account", "After the problems of the last weeks we want to "
         "cancel. Please confirm how to end the contract."),
    ),
    "needs_changed": (
        ("account", "Reducing our orders", "We are scaling down our operations and will need "
         "much less from you going forward."),
        ("cancellation", "Closing the account", "We are closing one of our sites, please "
         "cancel our plan at the end of the month."),
    ),
}

COMMENTS = {
    "promoter": (
        "Great service, always quick to respond.", "Reliable deliveries and friendly people.",
        "Very happy, would recommend to colleagues.", "Our account manager is excellent.",
        "Easy ordering and fair prices.",
    ),
    "passive": (
        "Fine overall, deliveries are sometimes late.", "OK, but invoices are often confusing.",
        "Good products, prices are a bit high.", "Does the job.",
        "The portal could be easier to use.",
    ),
    "detractor": (
        "Slow to answer, I had to chase several times.", "Too many mistakes with our orders.",
        "Prices keep going up.", "Nobody follows up on problems.",
        "Deliveries are late more often than not.",
    ),
}
DRIFT_COMMENTS = {
    "price": ("Too expensive now, we are looking at cheaper suppliers.",
              "The price increase was the last straw."),
    "competitor": ("We have a better offer from another supplier.",
                   "Probably switching to a competitor next quarter."),
    "service": ("Nobody answers our requests anymore, very frustrated.",
                "Had to call back several times about the same issue, still not solved."),
    "needs_changed": ("Our needs have changed, we will order much less.",
                      "We are downsizing, so less business for you."),
}
