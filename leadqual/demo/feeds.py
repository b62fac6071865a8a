"""The demo world's account feeds: what a customer's data vendors and CRM say about accounts.

Pure: numpy and pandas only. `account_feeds_generate` is called by the world's builder
(`leadqual.demo.world`) once the accounts, the buying episodes and the company events exist,
and returns the rows the feeds of docs/feeds.md would have delivered by the anchor:

- **contract renewals**: about a third of the prospects run a competitor's product (the
  incumbent). Its annual contract renews on a date a sales-intelligence vendor reports some
  months ahead. A buying committee often forms because that date is near: for many episodes
  the renewal falls a few weeks to four months after the committee's evaluation, so the
  committees evaluating now have a renewal coming (the displacement window).
- **competitor news**: each competitor makes the news now and then (a price rise, an outage,
  an acquisition, a product retired); the accounts it serves are tagged as affected.
- **"<incumbent> alternatives" research**: ahead of a renewal, the account researches
  replacements, as a third-party intent surge.
- **intent delivery**: every intent signal gets the vendor's id and the moment it arrived,
  after the observation by the vendor's delivery lag (a daily or weekly file).
- **technographics**: each account's technologies as sightings (category, first and last
  seen, the vendor that saw them), the same names as `Account.tech_stack`.
- **fiscal year**: the month an account's fiscal year starts, when the CRM knows it.

None of it enters the hidden readiness of `world` (computed before): a renewal or a news item
is evidence the model and the account score may use, correlated with buying through the
episodes, never a cause the generator hides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Array = npt.NDArray[Any]

DAY_SECONDS = 86400
# Share of prospects (not customers, not competitors) with an incumbent competitor.
INCUMBENT_SHARE = 0.3
# Share of buying episodes whose account's contract renews soon after the evaluation.
EPISODE_RENEWAL_SHARE = 0.45
# The renewal falls this many days after the episode's moment (uniform).
EPISODE_RENEWAL_DAYS = (20.0, 120.0)
# A renewal date is reported this many days before it (uniform).
RENEWAL_NOTICE_DAYS = (45.0, 240.0)
# Renewals due within this many days are known by now, whatever their notice.
REPORTED_BY_NOW_DAYS = 180.0
# Renewals with a date in this window around the anchor are in the feed (days).
RENEWAL_WINDOW = (-400.0, 365.0)
# Competitor news: items per competitor over the history (Poisson mean), and the share of the
# incumbent's accounts the news vendor tags as affected by each.
NEWS_PER_COMPETITOR = 5.0
NEWS_TAGGED_SHARE = 0.3
NEWS_DAYS = (-400.0, -0.1)
# "<incumbent> alternatives" research before a renewal.
ALTERNATIVES_SHARE = 0.5
ALTERNATIVES_BEFORE_DAYS = (10.0, 60.0)
# Intent vendors and their delivery lag in days (uniform): a daily API or a weekly file.
INTENT_LAG_DAYS: dict[str, tuple[float, float]] = {
    "Bombora": (1.0, 7.0),
    "G2": (0.05, 1.0),
    "TechTarget": (2.0, 7.0),
}
TECHNOLOGY_SOURCES: tuple[tuple[str, float], ...] = (("BuiltWith", 0.6), ("HG Insights", 0.4))
RENEWAL_SOURCES: tuple[str, ...] = ("G2", "HG Insights")
# Share of accounts whose fiscal-year start the CRM holds, and the months it starts in.
FISCAL_YEAR_KNOWN_SHARE = 0.6
FISCAL_YEAR_MONTHS: tuple[tuple[int, float], ...] = ((1, 0.62), (4, 0.16), (7, 0.14), (10, 0.08))

TECHNOLOGY_CATEGORIES: dict[str, str] = {
    "salesforce": "CRM",
    "hubspot": "Marketing automation",
    "marketo": "Marketing automation",
    "pardot": "Marketing automation",
    "snowflake": "Data warehouse",
    "sap": "ERP",
    "netsuite": "ERP",
    "oracle": "Database",
    "slack": "Collaboration",
    "microsoft dynamics": "CRM",
    "zendesk": "Customer support",
    "segment": "Customer data platform",
    "aws": "Cloud infrastructure",
    "azure": "Cloud infrastructure",
    "google cloud": "Cloud infrastructure",
    "workday": "HR",
    "outreach": "Sales engagement",
    "gong": "Conversation intelligence",
    "jira": "Project management",
    "tableau": "Business intelligence",
}

# Headlines about a competitor; {v} is its name, {n} a number, {a} an acquirer.
_NEWS: tuple[str, ...] = (
    "{v} raises list prices by {n}% at renewal",
    "{v} outage lasts {n} hours",
    "{v} acquired by {a}",
    "{v} lays off {n}% of its staff",
    "{v} retires its legacy scoring product",
    "{v} replaces its CEO",
    "{v} ends support for on-premise customers",
)
_ACQUIRERS: tuple[str, ...] = ("Oracle", "Thoma Bravo", "Vista Equity", "Adobe", "Zoom")


@dataclass
class AccountFeeds:
    """The feeds' rows; accounts by position, as in `world.DemoWorld`.

    `events` has the world's account-event columns (account, kind, occurred_at, title,
    details, source) plus vendor and renews_at ("YYYY-MM-DD" or None); `intent` the intent
    columns (account, topic, surge_score, observed_at, source); `technologies` one row per
    account and technology (account, name, category, first_seen, last_seen, source,
    received_at); `fiscal_year_start_month` one value per account (0: not known).
    """

    events: pd.DataFrame
    intent: pd.DataFrame
    technologies: pd.DataFrame
    fiscal_year_start_month: Array
    # Per account: the incumbent competitor's position in `competitors`, or -1.
    incumbent: Array


def stamps(anchor: datetime, days: Array) -> pd.Series:
    """Aware UTC timestamps for days relative to the anchor (to the second)."""
    seconds = int(anchor.timestamp()) + np.round(np.asarray(days, dtype=float) * DAY_SECONDS)
    return pd.Series(pd.to_datetime(seconds.astype("int64").astype("datetime64[s]"), utc=True))


def _weights(values: Sequence[float]) -> Array:
    w = np.asarray(values, dtype=float)
    return np.asarray(w / w.sum())


def account_feeds_generate(
    *,
    rng: np.random.Generator,
    anchor: datetime,
    accounts: pd.DataFrame,
    n_regular: int,
    competitors: Sequence[str],
    episode_account: Array,
    episode_time: Array,
) -> AccountFeeds:
    """The feeds for these accounts (`accounts`: the world's account rows, the first
    `n_regular` of them prospects and customers, the rest the competitors' own), given the
    buying episodes (account position, -1 for none, and moment in days from the anchor)."""
    n_acc = len(accounts)
    customer = accounts["is_customer"].to_numpy(dtype=bool)
    regular = np.arange(n_acc) < n_regular
    prospect = regular & ~customer

    # Who runs a competitor's product, and when its contract renews (a day of the year).
    incumbent = np.full(n_acc, -1, dtype=np.int64)
    has = prospect & (rng.random(n_acc) < INCUMBENT_SHARE)
    renewal_phase = rng.uniform(0.0, 365.0, n_acc)
    # Episodes: their account's renewal falls soon after the evaluation (a reason to look).
    episode_account = np.asarray(episode_account, dtype=np.int64)
    aligned = np.flatnonzero(
        (episode_account >= 0) & (rng.random(len(episode_account)) < EPISODE_RENEWAL_SHARE)
    )
    aligned = aligned[prospect[episode_account[aligned]]]
    # An account with several episodes: the latest one sets its renewal date.
    aligned = aligned[np.argsort(np.asarray(episode_time)[aligned], kind="stable")]
    after = rng.uniform(*EPISODE_RENEWAL_DAYS, len(aligned))
    for ep, days in zip(aligned.tolist(), after.tolist(), strict=True):
        account = int(episode_account[ep])
        has[account] = True
        renewal_phase[account] = (float(episode_time[ep]) + days) % 365.0
    incumbent[has] = rng.integers(0, len(competitors), int(has.sum()))

    events = [_renewals(rng, incumbent, renewal_phase, competitors, anchor)]
    events.append(_competitor_news(rng, incumbent, competitors))
    event_frame = pd.concat(events, ignore_index=True)
    intent = _alternatives(rng, event_frame)
    event_frame = event_frame.sort_values(["day", "account"], kind="stable", ignore_index=True)
    event_frame = pd.DataFrame(
        {
            "account": event_frame["account"].to_numpy(dtype=np.int64),
            "kind": event_frame["kind"].to_numpy(dtype=object),
            "occurred_at": stamps(anchor, event_frame["day"].to_numpy()),
            "title": event_frame["title"].to_numpy(dtype=object),
            "details": event_frame["details"].tolist(),
            "source": event_frame["source"].to_numpy(dtype=object),
            "vendor": event_frame["vendor"].to_numpy(dtype=object),
            "renews_at": event_frame["renews_at"].to_numpy(dtype=object),
        }
    )
    intent_frame = pd.DataFrame(
        {
            "account": intent["account"].to_numpy(dtype=np.int64),
            "topic": intent["topic"].to_numpy(dtype=object),
            "surge_score": intent["surge_score"].to_numpy(dtype=float),
            "observed_at": stamps(anchor, intent["day"].to_numpy()),
            "source": intent["source"].to_numpy(dtype=object),
        }
    )
    fiscal = np.zeros(n_acc, dtype=np.int64)
    known = rng.random(n_acc) < FISCAL_YEAR_KNOWN_SHARE
    months = np.array([m for m, _ in FISCAL_YEAR_MONTHS])
    fiscal[known] = months[
        rng.choice(len(months), int(known.sum()), p=_weights([w for _, w in FISCAL_YEAR_MONTHS]))
    ]
    return AccountFeeds(
        events=event_frame,
        intent=intent_frame,
        technologies=_technologies(rng, accounts, anchor),
        fiscal_year_start_month=fiscal,
        incumbent=incumbent,
    )


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            name: pd.Series(dtype=dtype)
            for name, dtype in (
                ("account", "int64"), ("kind", object), ("day", float), ("title", object),
                ("details", object), ("source", object), ("vendor", object),
                ("renews_at", object), ("renews_day", float),
            )
        }
    )  # fmt: skip


def _renewals(
    rng: np.random.Generator,
    incumbent: Array,
    phase: Array,
    competitors: Sequence[str],
    anchor: datetime,
) -> pd.DataFrame:
    """One contract-renewal event per renewal date in the window that was reported by the
    anchor: the renewal date, the incumbent, when the vendor reported it."""
    accounts = np.flatnonzero(incumbent >= 0)
    if len(accounts) == 0:
        return _empty_events()
    low, high = RENEWAL_WINDOW
    cycles = np.arange(math.floor(low / 365.0) - 1, math.ceil(high / 365.0) + 1)
    account = np.repeat(accounts, len(cycles))
    renews = np.tile(cycles * 365.0, len(accounts)) + phase[account]
    keep = (renews >= low) & (renews <= high)
    account, renews = account[keep], renews[keep]
    reported = renews - rng.uniform(*RENEWAL_NOTICE_DAYS, len(account))
    # A renewal due within the reporting horizon is known by now even when the vendor's
    # notice would only come later: it reported it in the last weeks.
    due = (reported > 0.0) & (renews <= REPORTED_BY_NOW_DAYS)
    reported[due] = -rng.uniform(1.0, 20.0, int(due.sum()))
    known = reported <= -1.0 / 24
    account, renews, reported = account[known], renews[known], reported[known]
    seats = np.round(rng.lognormal(math.log(60), 0.7, len(account))).astype(int) + 5
    source = np.array(RENEWAL_SOURCES, dtype=object)[
        rng.integers(0, len(RENEWAL_SOURCES), len(account))
    ]
    start = anchor.astimezone(UTC).date()
    titles, details, vendors, dates = [], [], [], []
    for a, r, s in zip(account.tolist(), renews.tolist(), seats.tolist(), strict=True):
        vendor = competitors[int(incumbent[a])]
        day = (start + timedelta(days=math.floor(r))).isoformat()
        vendors.append(vendor)
        dates.append(day)
        # The words of accounts.feed_records.default_event_title, and the vendor and date in
        # details too, where readers of events stored before those columns look.
        titles.append(f"Contract with {vendor} renews on {day}")
        details.append({"vendor": vendor, "renews_at": day, "seats": s})
    return pd.DataFrame(
        {
            "account": account,
            "kind": "contract_renewal",
            "day": reported,
            "title": titles,
            "details": details,
            "source": source,
            "vendor": vendors,
            "renews_at": dates,
            "renews_day": renews,
        }
    )


def _competitor_news(
    rng: np.random.Generator, incumbent: Array, competitors: Sequence[str]
) -> pd.DataFrame:
    """Each competitor's news items, at the accounts it serves that the vendor tags."""
    frames = []
    for index, vendor in enumerate(competitors):
        served = np.flatnonzero(incumbent == index)
        count = max(2, int(rng.poisson(NEWS_PER_COMPETITOR)))
        days = rng.uniform(*NEWS_DAYS, count)
        headline = rng.integers(0, len(_NEWS), count)
        number = rng.integers(2, 9, count)
        acquirer = rng.integers(0, len(_ACQUIRERS), count)
        for day, h, n, a in zip(days.tolist(), headline, number, acquirer, strict=True):
            template = _NEWS[int(h)]
            percent = int(n) * 5 if "%" in template else int(n) * 3
            title = template.format(v=vendor, n=percent, a=_ACQUIRERS[int(a)])
            tagged = served[rng.random(len(served)) < NEWS_TAGGED_SHARE]
            if len(tagged) == 0:
                continue
            frames.append(
                pd.DataFrame(
                    {
                        "account": tagged,
                        "kind": "competitor_news",
                        "day": day,
                        "title": title,
                        "details": [{"vendor": vendor, "headline": title}] * len(tagged),
                        "source": "News",
                        "vendor": vendor,
                        "renews_at": None,
                        "renews_day": np.nan,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else _empty_events()


def _alternatives(rng: np.random.Generator, events: pd.DataFrame) -> pd.DataFrame:
    """Intent surges on "<incumbent> alternatives" in the weeks before some renewals."""
    renewals = events[events["kind"] == "contract_renewal"]
    picked = renewals[rng.random(len(renewals)) < ALTERNATIVES_SHARE]
    n = len(picked)
    observed = picked["renews_day"].to_numpy(dtype=float) - rng.uniform(
        *ALTERNATIVES_BEFORE_DAYS, n
    )
    surge = np.round(np.clip(rng.lognormal(math.log(2.6), 0.3, n), 1.2, 9.0), 2)
    sources = np.array(tuple(INTENT_LAG_DAYS), dtype=object)[
        rng.integers(0, len(INTENT_LAG_DAYS), n)
    ]
    keep = observed <= -1.0 / 24  # observed by now
    return pd.DataFrame(
        {
            "account": picked["account"].to_numpy(dtype=np.int64)[keep],
            "topic": [f"{v} alternatives" for v in picked["vendor"].to_numpy()[keep]],
            "surge_score": surge[keep],
            "day": observed[keep],
            "source": sources[keep],
        }
    )


def intent_deliveries(
    *, rng: np.random.Generator, observed_days: Array, sources: Sequence[str], seed: int
) -> tuple[Array, list[str]]:
    """When each intent signal arrived (days from the anchor, never after it) and the
    vendor's id for it."""
    observed = np.asarray(observed_days, dtype=float)
    low = np.array([INTENT_LAG_DAYS.get(s, (0.5, 3.0))[0] for s in sources])
    high = np.array([INTENT_LAG_DAYS.get(s, (0.5, 3.0))[1] for s in sources])
    received = observed + low + rng.random(len(observed)) * (high - low)
    # Not delivered yet by that lag: it came in with the latest file, between then and now.
    late = received > 0.0
    received[late] = observed[late] + rng.random(int(late.sum())) * (0.0 - observed[late])
    ids = [f"demo-{seed}-intent-{i:07d}" for i in range(len(observed))]
    return received, ids


def _technologies(
    rng: np.random.Generator, accounts: pd.DataFrame, anchor: datetime
) -> pd.DataFrame:
    """Each account's tech stack as sightings by a technographics vendor."""
    stacks = accounts["tech_stack"].tolist()
    account = np.repeat(np.arange(len(stacks)), [len(s) for s in stacks])
    names = [" ".join(str(t).split()).lower() for s in stacks for t in s]
    m = len(names)
    last = -rng.uniform(0.0, 45.0, m)
    first = last - rng.uniform(30.0, 1100.0, m)
    source = np.array([s for s, _ in TECHNOLOGY_SOURCES], dtype=object)[
        rng.choice(len(TECHNOLOGY_SOURCES), m, p=_weights([w for _, w in TECHNOLOGY_SOURCES]))
    ]
    last_seen = stamps(anchor, last)
    return pd.DataFrame(
        {
            "account": account.astype(np.int64),
            "name": names,
            "category": [TECHNOLOGY_CATEGORIES.get(n, "") for n in names],
            "first_seen": stamps(anchor, first),
            "last_seen": last_seen,
            "source": source,
            "received_at": last_seen,
        }
    )
