"""A seeded, fully deterministic demo dataset: customers, their events, and a few bad rows.

Pure functions (numpy + Polars, no Prefect): the same seed always gives the same frames.

Population (shares of customers, roughly):

- ``power`` (8 %): heavy daily use, deep adoption (features, invites, integrations).
- ``steady`` (35 %), ``fading`` (20 %), ``churned`` (12 %): the *established* customers; which
  of the three a customer becomes is decided by the planted truth below.
- ``new_trial`` (15 %): signed up in the last 30 days; about 40 % (the deeper users) convert:
  heavy usage, often a purchase (their plan stays ``trial``: they are the product-qualified
  leads).
- ``dormant`` (10 %): a login now and then, marketing touches only.

Planted truth (for a churn-prediction backtest)
------------------------------------------------
Every customer draws three latent traits, standard normal z-scores:

- ``depth``: multiplies the rates of ``feature_used``, ``report_exported``, ``invite_sent``
  (and so ``teammate_joined``), ``integration_added`` and ``purchase`` by ``exp(0.6 * depth)``;
- ``friction``: multiplies the ``support_ticket`` rate by ``exp(0.6 * friction)``, and a ticket
  escalates (``support_ticket_escalated``) with probability ``0.2 * exp(0.6 * friction)``
  (capped at 0.85);
- ``activity``: multiplies the volume of everything else (``login``, ``session_start``,
  ``page_view``, ``message_sent``, …) by ``exp(0.5 * activity)``.

Established customers are ranked by a noisy churn-risk logit::

    churn_logit = -1.6 * depth + 1.2 * friction - 0.2 * activity + Logistic(0, 1)

The highest 12/67 of them churn (``churned``), the next 20/67 fade (``fading``), the rest stay
``steady``. So few invites / integrations / feature uses and many escalations *before* the
churn strongly predict it; login volume alone is only weakly (negatively) predictive.

- A churned customer stops all activity at a churn moment inside the window (between 10 % of
  the window and its last day; activity tapers over the 14 days before), with a
  ``subscription_cancelled`` at that moment (75 %) and/or an ``app_uninstalled`` shortly after
  (half of the app users). The others leave silently.
- A fading customer's activity decays exponentially over the window (to 8-37 % of its start);
  45 % downgrade and 35 % of the app users uninstall the app in the last 30 days.

Events of customers who signed up before the window carry no ``signup`` event; new trials
have one ``signup`` at their first moment. Every event lies in the ``days`` days ending on
``end_date`` (UTC), and nothing of a churned customer comes after its churn moment.
"""

import datetime
import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from scoring.schema import UTC_TIMESTAMP

PERSONAS: tuple[str, ...] = ("power", "steady", "fading", "churned", "new_trial", "dormant")
PLANS: tuple[str, ...] = ("free", "trial", "starter", "pro", "enterprise")
EVENT_TYPES: tuple[str, ...] = (
    "login",
    "session_start",
    "page_view",
    "feature_used",
    "invite_sent",
    "teammate_joined",
    "integration_added",
    "message_sent",
    "report_exported",
    "email_open",
    "email_click",
    "impression",
    "social_engagement",
    "nps_response",
    "csat_response",
    "effort_response",
    "purchase",
    "signup",
    "subscription_cancelled",
    "downgrade",
    "app_install",
    "app_uninstalled",
    "support_ticket",
    "support_ticket_escalated",
    "event_registration",
)
REGIONS: tuple[str, ...] = ("NA", "EMEA", "APAC", "LATAM")
ACCOUNT_OWNERS: tuple[str, ...] = (
    "Ada Moreau",
    "Bruno Silva",
    "Chen Wei",
    "Dana Kowalski",
    "Emeka Obi",
    "Farah Haddad",
)
NAME_WORDS: tuple[tuple[str, ...], ...] = (
    (
        "Blue",
        "Northern",
        "Bright",
        "Silver",
        "Granite",
        "Cedar",
        "Coral",
        "Amber",
        "Swift",
        "Quiet",
    ),
    ("Harbor", "Ridge", "Falcon", "Meadow", "Summit", "River", "Lantern", "Orbit", "Forge", "Pine"),
    ("Labs", "Systems", "Foods", "Logistics", "Health", "Studio", "Partners", "Retail", "Energy"),
)
"""Demo company names: one word of each tuple (900 combinations)."""
ARR_BY_PLAN: dict[str, tuple[float, float]] = {
    "free": (0.0, 0.0),
    "trial": (0.0, 0.0),
    "starter": (3_000.0, 0.4),
    "pro": (15_000.0, 0.5),
    "enterprise": (80_000.0, 0.6),
}
"""Annual recurring revenue per plan: (median, lognormal sigma); free and trial pay nothing."""
PAGES: tuple[str, ...] = ("/home", "/reports", "/docs", "/settings", "/pricing", "/integrations")
FEATURES: tuple[str, ...] = ("reports", "dashboards", "api", "automations", "exports")

EVENT_COLUMNS = pl.Schema(
    {
        "event_id": pl.String(),
        "customer_id": pl.String(),
        "event_type": pl.String(),
        "occurred_at": UTC_TIMESTAMP,
        "value": pl.Float64(),
        "session_id": pl.String(),
        "page": pl.String(),
        "duration_s": pl.Float64(),
        "scroll_pct": pl.Float64(),
        "amount": pl.Float64(),
        "feature": pl.String(),
        "plan": pl.String(),
    }
)
CUSTOMER_COLUMNS = pl.Schema(
    {
        "customer_id": pl.String(),
        "plan": pl.String(),
        "persona": pl.String(),
        "region": pl.String(),
        "account_owner": pl.String(),
        "signup_date": pl.Date(),
        "name": pl.String(),
        "arr": pl.Float64(),
    }
)

DAY_S = 86_400.0
HOUR_S = 3_600.0
TRIAL_SIGNUP_DAYS = 30
LATE_DAYS = 30
"""Fading customers downgrade / uninstall within the last LATE_DAYS days."""

# Segment shares; steady / fading / churned are split out of "established" by churn risk.
_SEGMENT_SHARES = {"power": 0.08, "new_trial": 0.15, "dormant": 0.10, "established": 0.67}
_CHURNED_OF_ESTABLISHED = 12 / 67
_FADING_OF_ESTABLISHED = 20 / 67

_PLAN_MIX: dict[str, dict[str, float]] = {
    "power": {"pro": 0.55, "enterprise": 0.45},
    "steady": {"free": 0.15, "starter": 0.40, "pro": 0.35, "enterprise": 0.10},
    "fading": {"free": 0.25, "starter": 0.45, "pro": 0.25, "enterprise": 0.05},
    "churned": {"free": 0.35, "starter": 0.45, "pro": 0.20},
    "new_trial": {"trial": 1.0},
    "dormant": {"free": 0.60, "starter": 0.40},
}

# Answer distributions per persona: NPS 0-10, CSAT 1-5, effort 1-7 (lower is easier).
_NPS = {
    "power": [0, 0, 0, 0, 0, 0, 0.02, 0.04, 0.09, 0.35, 0.50],
    "steady": [0.01, 0.01, 0.01, 0.02, 0.03, 0.05, 0.07, 0.15, 0.25, 0.20, 0.20],
    "fading": [0.04, 0.04, 0.05, 0.07, 0.10, 0.12, 0.13, 0.15, 0.13, 0.09, 0.08],
    "churned": [0.08, 0.08, 0.10, 0.10, 0.12, 0.12, 0.12, 0.10, 0.08, 0.05, 0.05],
    "new_trial": [0.01, 0.01, 0.02, 0.02, 0.03, 0.06, 0.08, 0.15, 0.22, 0.20, 0.20],
    "dormant": [0.05, 0.05, 0.05, 0.08, 0.10, 0.15, 0.15, 0.15, 0.10, 0.07, 0.05],
}
_CSAT = {
    "power": [0.02, 0.03, 0.10, 0.35, 0.50],
    "steady": [0.03, 0.07, 0.15, 0.40, 0.35],
    "fading": [0.10, 0.15, 0.25, 0.30, 0.20],
    "churned": [0.20, 0.20, 0.25, 0.20, 0.15],
    "new_trial": [0.03, 0.07, 0.15, 0.40, 0.35],
    "dormant": [0.10, 0.15, 0.25, 0.30, 0.20],
}
_EFFORT = {
    "power": [0.35, 0.30, 0.20, 0.10, 0.03, 0.01, 0.01],
    "steady": [0.20, 0.25, 0.25, 0.15, 0.08, 0.04, 0.03],
    "fading": [0.08, 0.12, 0.20, 0.25, 0.15, 0.12, 0.08],
    "churned": [0.05, 0.08, 0.15, 0.20, 0.20, 0.17, 0.15],
    "new_trial": [0.20, 0.25, 0.25, 0.15, 0.08, 0.04, 0.03],
    "dormant": [0.08, 0.12, 0.20, 0.25, 0.15, 0.12, 0.08],
}


@dataclass(frozen=True)
class _Population:
    """Per-customer arrays (index = customer) and per (customer, day) intensity profiles.

    Times are seconds since the window start; a customer is active in [active_from, active_until).
    """

    days: int
    persona: np.ndarray  # persona names
    activity: np.ndarray  # rate multipliers
    depth: np.ndarray
    friction: np.ndarray
    active_from: np.ndarray
    active_until: np.ndarray
    app_user: np.ndarray  # bool
    converter: np.ndarray  # bool: trials that convert
    usage: np.ndarray  # (customers, days): product usage intensity (weekdays applied later)
    presence: np.ndarray  # (customers, days): active share of the day (x fading decay)

    @property
    def size(self) -> int:
        return int(self.persona.size)


def _assign_personas(rng: np.random.Generator, customers: int) -> dict[str, np.ndarray]:
    """Segments, latent traits, and the planted churn truth for established customers."""
    segments = np.array(list(_SEGMENT_SHARES))
    segment = rng.choice(segments, size=customers, p=list(_SEGMENT_SHARES.values()))
    depth_z = rng.standard_normal(customers)
    friction_z = rng.standard_normal(customers)
    activity_z = rng.standard_normal(customers)
    noise = rng.logistic(0.0, 1.0, customers)

    persona = segment.astype(object)
    established = np.flatnonzero(segment == "established")
    churn_logit = (
        -1.6 * depth_z[established]
        + 1.2 * friction_z[established]
        - 0.2 * activity_z[established]
        + noise[established]
    )
    by_risk = established[np.argsort(-churn_logit, kind="stable")]
    churned_count = round(established.size * _CHURNED_OF_ESTABLISHED)
    fading_count = round(established.size * _FADING_OF_ESTABLISHED)
    persona[established] = "steady"
    persona[by_risk[:churned_count]] = "churned"
    persona[by_risk[churned_count : churned_count + fading_count]] = "fading"

    # Power users are deep and calm; dormant ones shallow; trials as drawn.
    power = segment == "power"
    dormant = segment == "dormant"
    depth_z = np.where(power, 1.3 + 0.5 * depth_z, depth_z)
    depth_z = np.where(dormant, -1.0 + 0.5 * depth_z, depth_z)
    friction_z = np.where(power, -0.5 + 0.6 * friction_z, friction_z)
    return {
        "persona": persona.astype(str),
        "depth_z": depth_z,
        "friction_z": friction_z,
        "activity_z": activity_z,
    }


def _population(rng: np.random.Generator, customers: int, days: int) -> _Population:
    traits = _assign_personas(rng, customers)
    persona = traits["persona"]
    activity = np.exp(0.5 * traits["activity_z"])
    depth = np.exp(0.6 * traits["depth_z"])
    friction = np.exp(0.6 * traits["friction_z"])

    is_trial = persona == "new_trial"
    converter = is_trial & (traits["depth_z"] + 0.5 * rng.standard_normal(customers) > 0.3)
    activity = activity * np.select(
        [persona == "power", persona == "dormant", converter, is_trial],
        [2.2, 0.06, 2.0, 0.8],
        default=1.0,
    )
    depth = depth * np.where(converter, 1.8, 1.0)
    app_user = rng.random(customers) < np.where(persona == "power", 0.8, 0.5)

    window_s = days * DAY_S
    active_from = np.zeros(customers)
    active_until = np.full(customers, window_s)
    # New trials sign up on one of the last TRIAL_SIGNUP_DAYS days (not the very last).
    signup_days = min(TRIAL_SIGNUP_DAYS, days)
    signup_day = days - rng.integers(2, signup_days + 1, customers) if signup_days >= 2 else 0
    signup_at = signup_day * DAY_S + rng.uniform(8 * HOUR_S, 20 * HOUR_S, customers)
    active_from = np.where(is_trial, signup_at, active_from)
    # Churned customers stop at a moment between 10 % of the window and its last day.
    is_churned = persona == "churned"
    churn_day = rng.integers(min(max(1, round(0.1 * days)), days - 1), days, customers)
    churn_at = churn_day * DAY_S + rng.uniform(8 * HOUR_S, 18 * HOUR_S, customers)
    active_until = np.where(is_churned, churn_at, active_until)

    day_start = np.arange(days) * DAY_S
    overlap = np.minimum(day_start + DAY_S, active_until[:, None]) - np.maximum(
        day_start, active_from[:, None]
    )
    presence = np.clip(overlap / DAY_S, 0.0, 1.0)

    day_midpoint = (np.arange(days) + 0.5)[None, :]
    fade_rate = rng.uniform(1.0, 2.5, customers)[:, None]
    fading_curve = np.where(
        (persona == "fading")[:, None], np.exp(-fade_rate * day_midpoint / days), 1.0
    )
    days_to_churn = churn_day[:, None] - np.arange(days)[None, :]
    taper = np.where(is_churned[:, None], 0.5 + 0.5 * np.clip(days_to_churn / 14, 0.0, 1.0), 1.0)
    return _Population(
        days=days,
        persona=persona,
        activity=activity,
        depth=depth,
        friction=friction,
        active_from=active_from,
        active_until=active_until,
        app_user=app_user,
        converter=converter,
        usage=presence * fading_curve * taper,
        presence=presence * np.where((persona == "fading")[:, None], fading_curve, 1.0),
    )


class _EventBatches:
    """Collects generated events as small frames (customer index, seconds, properties)."""

    def __init__(self, rng: np.random.Generator, population: _Population, weekday: np.ndarray):
        self.rng = rng
        self.population = population
        self.weekday = weekday  # (days,) usage factor of each window day
        self.frames: list[pl.DataFrame] = []

    def add(self, event_type: str, customer: np.ndarray, at_s: np.ndarray, **props: Any) -> None:
        """Keep events inside their customer's active interval, then store them."""
        inside = (at_s >= self.population.active_from[customer]) & (
            at_s < self.population.active_until[customer]
        )
        self.add_unchecked(event_type, customer[inside], at_s[inside], inside=inside, **props)

    def add_unchecked(
        self,
        event_type: str,
        customer: np.ndarray,
        at_s: np.ndarray,
        inside: np.ndarray | None = None,
        **props: Any,
    ) -> None:
        columns: dict[str, Any] = {
            "customer": customer.astype(np.int64),
            "at_s": at_s.astype(np.float64),
            "event_type": np.full(customer.size, event_type),
        }
        for name, values in props.items():
            array = np.asarray(values)
            columns[name] = array[inside] if inside is not None else array
        self.frames.append(pl.DataFrame(columns))

    def from_rates(
        self, rate: np.ndarray, *, weekdays: bool = True, profile: str = "usage"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Poisson counts per (customer, day) at `rate` (per customer) x profile; their times.

        Times are uniform within the part of the day the customer is active.
        """
        population = self.population
        intensity = rate[:, None] * getattr(population, profile)
        if weekdays:
            intensity = intensity * self.weekday[None, :]
        counts = self.rng.poisson(intensity)
        cells = np.repeat(np.arange(counts.size), counts.ravel())
        customer, day = np.divmod(cells, population.days)
        low = np.maximum(day * DAY_S, population.active_from[customer])
        high = np.minimum((day + 1) * DAY_S, population.active_until[customer])
        at_s = low + self.rng.random(cells.size) * (high - low)
        return customer, at_s

    def follow_ups(
        self,
        customer: np.ndarray,
        at_s: np.ndarray,
        probability: float | np.ndarray,
        delay_s: tuple[float, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Events that follow a share of earlier ones after a uniform delay (kept if active)."""
        chosen = self.rng.random(customer.size) < probability
        delay = self.rng.uniform(delay_s[0], delay_s[1], customer.size)
        later = at_s + delay
        keep = chosen & (later < self.population.active_until[customer])
        return customer[keep], later[keep]

    def answers(
        self, customer: np.ndarray, table: dict[str, list[float]], first: int
    ) -> np.ndarray:
        """Survey answers drawn from the persona's distribution (first = lowest answer)."""
        values = np.zeros(customer.size)
        personas = self.population.persona[customer]
        for persona, weights in table.items():
            mine = np.flatnonzero(personas == persona)
            p = np.asarray(weights) / np.sum(weights)
            values[mine] = first + self.rng.choice(p.size, size=mine.size, p=p)
        return values


def _product_events(batches: _EventBatches) -> None:
    rng = batches.rng
    population = batches.population
    activity, depth = population.activity, population.depth

    customer, at_s = batches.from_rates(0.3 * activity)
    batches.add_unchecked("login", customer, at_s)

    # Sessions and their page views: pages per session ~ geometric, mean 2.5.
    session_customer, session_at = batches.from_rates(0.2 * activity)
    session_count = session_customer.size
    session_number = np.arange(session_count)
    pages_per_session = rng.geometric(1 / 2.5, session_count)
    page_session = np.repeat(session_number, pages_per_session)
    duration = np.round(rng.lognormal(3.6, 0.8, page_session.size), 1)
    before = np.cumsum(duration) - duration
    session_first = np.cumsum(pages_per_session) - pages_per_session
    offset = 1.0 + before - before[session_first][page_session]
    session_length = np.add.reduceat(duration, session_first) if session_count else duration
    session_ids = np.char.add("se-", np.char.zfill(session_number.astype(str), 7))
    batches.add_unchecked(
        "session_start",
        session_customer,
        session_at,
        session_id=session_ids,
        duration_s=session_length,
    )
    first_page = np.zeros(page_session.size, dtype=bool)
    first_page[session_first] = True
    page = np.where(
        first_page & (rng.random(page_session.size) < 0.6),
        "/home",
        rng.choice(np.array(PAGES), size=page_session.size, p=[0.1, 0.3, 0.25, 0.1, 0.1, 0.15]),
    )
    batches.add(
        "page_view",
        session_customer[page_session],
        session_at[page_session] + offset,
        session_id=session_ids[page_session],
        page=page,
        duration_s=duration,
        scroll_pct=np.round(100 * rng.beta(2.0, 2.0, page_session.size), 1),
    )

    customer, at_s = batches.from_rates(0.3 * activity * depth)
    feature = rng.choice(np.array(FEATURES), size=customer.size, p=[0.3, 0.3, 0.15, 0.15, 0.1])
    batches.add_unchecked("feature_used", customer, at_s, feature=feature)

    customer, at_s = batches.from_rates(0.03 * depth)
    batches.add_unchecked("invite_sent", customer, at_s)
    joined = batches.follow_ups(customer, at_s, 0.5, (HOUR_S, 3 * DAY_S))
    batches.add_unchecked("teammate_joined", *joined)

    batches.add_unchecked("integration_added", *batches.from_rates(0.012 * depth))
    batches.add_unchecked("message_sent", *batches.from_rates(0.25 * activity))
    batches.add_unchecked("report_exported", *batches.from_rates(0.08 * activity * depth))
    batches.add_unchecked(
        "event_registration", *batches.from_rates(0.005 * np.sqrt(activity), weekdays=False)
    )


def _marketing_events(batches: _EventBatches) -> None:
    size = batches.population.size
    customer, at_s = batches.from_rates(np.full(size, 0.12), weekdays=False, profile="presence")
    batches.add_unchecked("email_open", customer, at_s)
    batches.add_unchecked(
        "email_click", *batches.follow_ups(customer, at_s, 0.1, (5.0, 2 * HOUR_S))
    )
    customer, at_s = batches.from_rates(np.full(size, 0.15), weekdays=False, profile="presence")
    batches.add_unchecked("impression", customer, at_s)
    engaged = batches.follow_ups(customer, at_s, 0.03, (1.0, 600.0))
    batches.add_unchecked("social_engagement", *engaged)


def _support_and_survey_events(batches: _EventBatches) -> None:
    population = batches.population
    customer, at_s = batches.from_rates(0.02 * population.friction)
    batches.add_unchecked("support_ticket", customer, at_s)
    escalation = np.minimum(0.2 * population.friction[customer], 0.85)
    escalated = batches.follow_ups(customer, at_s, escalation, (HOUR_S, 2 * DAY_S))
    batches.add_unchecked("support_ticket_escalated", *escalated)
    csat_customer, csat_at = batches.follow_ups(customer, at_s, 0.45, (2 * HOUR_S, 3 * DAY_S))
    batches.add_unchecked(
        "csat_response",
        csat_customer,
        csat_at,
        value=batches.answers(csat_customer, _CSAT, first=1),
    )
    effort_customer, effort_at = batches.follow_ups(customer, at_s, 0.3, (2 * HOUR_S, 3 * DAY_S))
    batches.add_unchecked(
        "effort_response",
        effort_customer,
        effort_at,
        value=batches.answers(effort_customer, _EFFORT, first=1),
    )
    nps_customer, nps_at = batches.from_rates(
        np.full(population.size, 0.008), weekdays=False, profile="presence"
    )
    batches.add_unchecked(
        "nps_response", nps_customer, nps_at, value=batches.answers(nps_customer, _NPS, first=0)
    )


def _lifecycle_events(batches: _EventBatches) -> None:
    rng = batches.rng
    population = batches.population
    window_s = population.days * DAY_S
    persona = population.persona

    def amounts(count: int) -> np.ndarray:
        return np.round(np.clip(rng.lognormal(4.3, 0.8, count), 20.0, 500.0), 2)

    # Add-on purchases by established customers; new trials that convert buy a plan.
    customer, at_s = batches.from_rates(0.005 * population.depth)
    established = persona[customer] != "new_trial"
    customer, at_s = customer[established], at_s[established]
    batches.add_unchecked("purchase", customer, at_s, amount=amounts(customer.size))
    trial = np.flatnonzero(population.converter)
    bought = batches.follow_ups(trial, population.active_from[trial], 0.6, (3 * DAY_S, 20 * DAY_S))
    batches.add_unchecked("purchase", *bought, amount=amounts(bought[0].size))

    trials = np.flatnonzero(persona == "new_trial")
    batches.add_unchecked("signup", trials, population.active_from[trials])
    trial_apps = trials[population.app_user[trials]]
    installed = batches.follow_ups(
        trial_apps, population.active_from[trial_apps], 0.9, (60.0, DAY_S)
    )
    batches.add_unchecked("app_install", *installed)
    reinstall_rate = np.where(population.app_user & (persona != "new_trial"), 0.002, 0.0)
    batches.add_unchecked("app_install", *batches.from_rates(reinstall_rate, weekdays=False))

    churned = np.flatnonzero(persona == "churned")
    churn_at = population.active_until[churned]
    cancels = rng.random(churned.size) < 0.75
    batches.add_unchecked("subscription_cancelled", churned[cancels], churn_at[cancels])
    uninstalls = population.app_user[churned] & (rng.random(churned.size) < 0.5)
    uninstall_at = churn_at + rng.uniform(0.0, 3 * HOUR_S, churned.size)
    batches.add_unchecked("app_uninstalled", churned[uninstalls], uninstall_at[uninstalls])

    # Fading customers downgrade / uninstall late in the window.
    fading = np.flatnonzero(persona == "fading")
    late_start = max(0.0, window_s - LATE_DAYS * DAY_S)
    downgrades = fading[rng.random(fading.size) < 0.45]
    batches.add("downgrade", downgrades, rng.uniform(late_start, window_s, downgrades.size))
    fading_apps = fading[population.app_user[fading] & (rng.random(fading.size) < 0.35)]
    batches.add("app_uninstalled", fading_apps, rng.uniform(late_start, window_s, fading_apps.size))


def _customers_table(
    rng: np.random.Generator, population: _Population, window_start: datetime.datetime
) -> pl.DataFrame:
    size = population.size
    width = max(4, len(str(size)))
    customer_ids = np.char.add("cus-", np.char.zfill(np.arange(1, size + 1).astype(str), width))
    plan = np.empty(size, dtype=object)
    for persona, mix in _PLAN_MIX.items():
        mine = np.flatnonzero(population.persona == persona)
        plan[mine] = rng.choice(np.array(list(mix)), size=mine.size, p=list(mix.values()))
    # Established customers signed up 1-1000 days before the window; trials at active_from.
    days_before = rng.integers(1, 1001, size)
    signup_offset_days = np.where(
        population.persona == "new_trial", population.active_from // DAY_S, -days_before
    ).astype(np.int64)
    first = pl.lit(window_start.date())
    region = rng.choice(np.array(REGIONS), size=size, p=[0.4, 0.35, 0.15, 0.1])
    account_owner = rng.choice(np.array(ACCOUNT_OWNERS), size=size)
    # drawn last: the columns above (and every event) stay what they were before names existed
    words = [rng.choice(np.array(choices), size=size) for choices in NAME_WORDS]
    median, sigma = (np.array([ARR_BY_PLAN[p][i] for p in plan.astype(str)]) for i in range(2))
    arr = np.round(median * np.exp(sigma * rng.standard_normal(size)), -2)
    return (
        pl.DataFrame(
            {
                "customer_id": customer_ids,
                "plan": plan.astype(str),
                "persona": population.persona,
                "region": region,
                "account_owner": account_owner,
                "signup_offset_days": signup_offset_days,
                "name": [" ".join(parts) for parts in zip(*words, strict=True)],
                "arr": arr,
            }
        )
        .with_columns((first + pl.duration(days=pl.col("signup_offset_days"))).alias("signup_date"))
        .select(list(CUSTOMER_COLUMNS))
        .cast(CUSTOMER_COLUMNS)
    )


def generate_demo_events(
    end_date: datetime.date, customers: int = 2000, days: int = 90, seed: int = 7
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(events, customers_table) for `customers` customers over the `days` days ending on
    `end_date` (UTC), deterministic for `seed`. See the module docstring for the planted truth.
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    rng = np.random.default_rng(seed)
    window_end = datetime.datetime.combine(
        end_date + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
    )
    window_start = window_end - datetime.timedelta(days=days)
    weekday = np.array(
        [
            0.45 if (window_start.date() + datetime.timedelta(days=d)).weekday() >= 5 else 1.0
            for d in range(days)
        ]
    )
    population = _population(rng, customers, days)
    batches = _EventBatches(rng, population, weekday)
    _product_events(batches)
    _marketing_events(batches)
    _support_and_survey_events(batches)
    _lifecycle_events(batches)
    customers_table = _customers_table(rng, population, window_start)

    start_us = int(window_start.timestamp()) * 1_000_000
    occurred_at = (
        (pl.lit(start_us) + (pl.col("at_s") * 1_000_000).floor().cast(pl.Int64))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    events = (
        pl.concat(batches.frames, how="diagonal_relaxed")
        .with_row_index("generated")
        .with_columns(occurred_at.alias("occurred_at"))
        # generation order breaks the (rare) ties: ids are stable for a seed
        .sort("occurred_at", "customer", "event_type", "generated")
    )
    customer_index = events["customer"]
    id_width = max(7, len(str(events.height)))
    missing = [name for name in EVENT_COLUMNS if name not in events.columns]
    events = events.with_columns(
        pl.lit(None, EVENT_COLUMNS[name]).alias(name) for name in missing
    ).with_columns(
        pl.format("ev-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(id_width)).alias(
            "event_id"
        ),
        customers_table["customer_id"].gather(customer_index).alias("customer_id"),
        customers_table["plan"].gather(customer_index).alias("plan"),
    )
    return events.select(list(EVENT_COLUMNS)).cast(EVENT_COLUMNS), customers_table


TIMESTAMP_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"
"""ISO 8601 UTC text with microseconds and `Z`, as written to events.csv."""

_DUPLICATES = 4


def _as_text(events: pl.DataFrame) -> pl.DataFrame:
    """Every column as text; occurred_at as ISO 8601 with `Z`."""
    return events.with_columns(
        pl.col(name).dt.strftime(TIMESTAMP_TEXT_FORMAT)
        if isinstance(dtype, pl.Datetime)
        else pl.col(name).cast(pl.String)
        for name, dtype in events.schema.items()
    )


def with_bad_rows(events: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The events as an all-text frame with 12 deliberately bad rows injected (seeded).

    Eight invalid rows (ids `ev-bad-001`..): a missing and a blank customer_id, a missing
    event_type, a missing event_id, a missing, an unparseable (`not-a-date`) and two impossible
    (`YYYY-02-30`, `YYYY-13-01`) timestamps; plus four exact copies of valid rows (same
    event_id), each placed after its original.
    """
    rng = np.random.default_rng(seed)
    text = _as_text(events).with_row_index("position")
    height = text.height
    if height == 0:
        raise ValueError("with_bad_rows needs at least one event to copy")
    templates = text[rng.choice(height, size=8, replace=height < 8).tolist()]
    year = str(templates["occurred_at"][0])[:4]
    bad_values: list[tuple[str, str | None]] = [
        ("customer_id", None),
        ("customer_id", "   "),
        ("event_type", None),
        ("event_id", None),
        ("occurred_at", None),
        ("occurred_at", "not-a-date"),
        ("occurred_at", f"{year}-02-30T10:00:00Z"),
        ("occurred_at", f"{year}-13-01T10:00:00Z"),
    ]
    bad_rows = [
        templates[row].with_columns(
            pl.lit(value, pl.String).alias(name)
            for name, value in ({"event_id": f"ev-bad-{row + 1:03d}"} | {column: value}).items()
        )
        for row, (column, value) in enumerate(bad_values)
    ]
    # Injected at random places; duplicates come after their original.
    invalid = pl.concat(bad_rows).with_columns(
        pl.Series("position", rng.uniform(0, height, len(bad_rows)) - 0.5)
    )
    copied = text[rng.choice(height, size=min(_DUPLICATES, height), replace=False).tolist()]
    duplicates = copied.with_columns(pl.col("position") + 0.25)
    combined: pl.DataFrame = pl.concat(
        [text.with_columns(pl.col("position").cast(pl.Float64)), invalid, duplicates],
        how="vertical_relaxed",
    )
    return combined.sort("position", maintain_order=True).drop("position")


def write_demo_dataset(
    directory: pathlib.Path,
    end_date: datetime.date,
    customers: int = 2000,
    days: int = 90,
    seed: int = 7,
) -> dict[str, Any]:
    """Write `events.csv` (with the bad rows) and `customers.csv` into `directory` (created).

    Returns {"events": path, "customers": path, "rows": rows in events.csv}.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    events, customers_table = generate_demo_events(end_date, customers, days, seed)
    raw_events = with_bad_rows(events, seed)
    events_path = directory / "events.csv"
    customers_path = directory / "customers.csv"
    raw_events.write_csv(events_path)
    customers_table.write_csv(customers_path)
    return {"events": events_path, "customers": customers_path, "rows": raw_events.height}
