"""The contracts of the metric panel's outputs: customer_metrics and segment_metrics."""

import polars as pl

from scoring.schema.columns import Column

CUSTOMER_METRICS: tuple[Column, ...] = (
    Column("customer_id", pl.String(), "customer id (one row per customer of the scores table)"),
    Column("score", pl.Float64(), "the CES, as in scores"),
    Column("tier", pl.String(), "the absolute tier, as in scores"),
    Column(
        "score_previous",
        pl.Float64(),
        "CES of the previous period: the window ending window_days "
        "before the run date; null when the customer was not seen by then",
        True,
    ),
    Column(
        "score_change", pl.Float64(), "score - score_previous; null when score_previous is", True
    ),
    Column(
        "responding",
        pl.Boolean(),
        "score > score_previous (a customer not seen in the previous period counts from 0)",
    ),
    Column(
        "segment",
        pl.String(),
        "the customer's value of metrics.percentile_segment (default plan); "
        "null when unknown or not configured",
        True,
    ),
    Column(
        "score_percentile",
        pl.Float64(),
        "% of the customers of the same segment value whose score is "
        "<= this one's (rank max / customers x 100; top = 100)",
    ),
    Column(
        "csat_responses", pl.Int64(), "CSAT answers on the scale (1..csat_scale_max) in the window"
    ),
    Column("csat", pl.Float64(), "answers >= csat_satisfied_min (4) / csat_responses x 100", True),
    Column("nps_responses", pl.Int64(), "NPS answers (0-10) in the window"),
    Column(
        "nps", pl.Float64(), "% of the customer's NPS answers 9-10 - % 0-6 (in [-100, 100])", True
    ),
    Column("nps_response", pl.Float64(), "the latest NPS answer (0-10) in the window", True),
    Column(
        "nps_category",
        pl.String(),
        "promoter (9-10) / passive (7-8) / detractor (0-6) of nps_response",
        True,
    ),
    Column("effort_responses", pl.Int64(), "effort answers (1..effort_scale) in the window"),
    Column("effort_score", pl.Float64(), "mean effort answer (lower is better)", True),
    Column("page_views", pl.Int64(), "page views in the window"),
    Column("sessions", pl.Int64(), "sessions (distinct session_id) with a page view in the window"),
    Column("pages_per_session", pl.Float64(), "page views in sessions / sessions", True),
    Column(
        "avg_time_on_page_s", pl.Float64(), "mean duration_s of the page views that have one", True
    ),
    Column(
        "avg_session_duration_s",
        pl.Float64(),
        "mean over sessions of the sum of their page views' duration_s",
        True,
    ),
    Column(
        "bounce_rate",
        pl.Float64(),
        "sessions with one page view and no other event of the session "
        "(except the session start) / sessions x 100",
        True,
    ),
    Column("scroll_depth", pl.Float64(), "mean scroll_pct of the page views that have one", True),
    Column(
        "visitor_type",
        pl.String(),
        "new (first page view ever in the window) / returning (an "
        "earlier one) / null (no page view in the window)",
        True,
    ),
    Column("email_opens", pl.Int64(), "email opens in the window"),
    Column("email_clicks", pl.Int64(), "email clicks in the window"),
    Column(
        "ctr",
        pl.Float64(),
        "email_clicks / email_opens x 100 (may exceed 100 if opens go untracked)",
        True,
    ),
    Column("impressions", pl.Int64(), "social/ad impressions in the window"),
    Column(
        "social_engagements", pl.Int64(), "likes, shares, saves, comments, mentions in the window"
    ),
    Column("social_engagement_rate", pl.Float64(), "social_engagements / impressions x 100", True),
    Column(
        "conversions", pl.Int64(), "conversion events (metrics.conversion_events) in the window"
    ),
    Column("conversion_rate", pl.Float64(), "conversions / sessions x 100", True),
    Column("event_registrations", pl.Int64(), "offline event registrations in the window"),
    Column("active_days", pl.Int64(), "distinct UTC days in the window with an active event"),
    Column(
        "stickiness",
        pl.Float64(),
        "DAU/MAU for one customer: active_days / window_days x 100; null when not active",
        True,
    ),
    Column(
        "paying",
        pl.Boolean(),
        "plan (metrics.plan_column) in metrics.paying_plans, or plan unknown",
    ),
    Column(
        "at_period_start",
        pl.Boolean(),
        "seen (event or signup) before the window and not cancelled "
        "before it: counts in the churn rate's denominator",
    ),
    Column("churned", pl.Boolean(), "a cancellation event in the window"),
    Column("app_installs", pl.Int64(), "app installs in the window"),
    Column("app_uninstalls", pl.Int64(), "app uninstalls in the window"),
    Column(
        "app_status",
        pl.String(),
        "kept / deleted: the latest install or uninstall at or before the "
        "run date (at one instant: the later event id); null when neither",
        True,
    ),
    Column(
        "purchases",
        pl.Int64(),
        "purchases with an amount in the clv_lookback_days (365) days ending on the run date",
    ),
    Column("revenue", pl.Float64(), "sum of their amounts (0 without purchases)"),
    Column("average_order_value", pl.Float64(), "revenue / purchases", True),
    Column(
        "clv",
        pl.Float64(),
        "average_order_value x purchases x 365 / clv_lookback_days x customer_lifespan_years",
        True,
    ),
    Column(
        "signup_date",
        pl.Date(),
        "UTC date of the first signup event, else the customers table's signup_date",
        True,
    ),
    Column(
        "first_week_score",
        pl.Float64(),
        "sum of weight x count over the events of the signup date "
        "and the 6 days after; null unless signed up in the window with that week over",
        True,
    ),
    Column("first_week_events", pl.Int64(), "events in that first week (0 when out of scope)"),
    Column("features_used", pl.Int64(), "distinct features used in the window (0 when none)"),
    Column(
        "feature_adoption_pct",
        pl.Float64(),
        "features_used / feature catalogue size x 100 "
        "(catalogue: metrics.features, else every feature used in the window)",
        True,
    ),
    Column("support_tickets", pl.Int64(), "support tickets in the window"),
    Column("escalations", pl.Int64(), "support escalations in the window"),
    Column(
        "health_engagement", pl.Float64(), "clip(score / engagement_full_score (100) x 100, 0, 100)"
    ),
    Column(
        "health_satisfaction",
        pl.Float64(),
        "mean of csat, nps_response x 10 and (effort_scale - "
        "effort_score) / (effort_scale - 1) x 100 that are present",
        True,
    ),
    Column("health_support", pl.Float64(), "max(0, 100 - 10 x support_tickets - 25 x escalations)"),
    Column(
        "health_billing",
        pl.Float64(),
        "max(0, 100 - billing penalties: 100 per cancellation, 50 per downgrade)",
    ),
    Column(
        "health_score",
        pl.Float64(),
        "sum of w x component / sum of w over the components present; "
        "weights per health.segment value or default 0.4/0.3/0.15/0.15",
        True,
    ),
)

SEGMENT_METRICS: tuple[Column, ...] = (
    Column(
        "segment",
        pl.String(),
        "the attribute: all (the whole population), plan, persona, region, "
        "account_owner, signup_cohort, ...",
    ),
    Column(
        "segment_value",
        pl.String(),
        "the attribute's value (all for segment all; null = unknown)",
        True,
    ),
    Column("metric", pl.String(), "the metric's name (see the list below the table)"),
    Column("detail", pl.String(), "tier, page or feature for per-tier/page/feature metrics", True),
    Column(
        "value",
        pl.Float64(),
        "the metric over the segment's customers; null when its denominator is 0",
        True,
    ),
    Column(
        "observations",
        pl.Int64(),
        "what the value rests on: the denominator of a rate or mean, the counted items of a count",
    ),
    Column("customers", pl.Int64(), "customers in the segment value"),
)
