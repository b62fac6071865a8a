"""Plotly figures of the RevOps pages: pure functions from plain rows (the snapshot's report,
the snapshot series, a model's stored holdout metrics) to figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from dashboards.charts import PALETTE, figure_style

_TIERS = (
    ("sales_ready", "Sales Ready", PALETTE["sales_ready"]),
    ("nurture", "Nurture", PALETTE["nurture"]),
    ("disqualified", "Disqualify", PALETTE["disqualified"]),
)


def tier_history(points: Sequence[Any]) -> go.Figure:
    """Stacked areas of the current tiers at each snapshot; `points` have `taken_at` and a
    count per tier (`TierPoint`)."""
    fig = go.Figure()
    x = [p.taken_at for p in points]
    for key, label, colour in _TIERS:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[getattr(p, key) for p in points],
                name=label,
                mode="lines",
                stackgroup="tiers",
                line={"color": colour, "width": 1},
            )
        )
    fig.update_yaxes(title_text="Leads", rangemode="tozero")
    return figure_style(fig, height=300)


def _bin_points(bins: Sequence[dict[str, Any]]) -> tuple[list[float], list[float], list[int]]:
    used = [b for b in bins if b.get("count") and b.get("mean_predicted") is not None]
    return (
        [float(b["mean_predicted"]) for b in used],
        [float(b["observed_rate"]) for b in used],
        [int(b["count"]) for b in used],
    )


def calibration(
    *, holdout: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]]
) -> go.Figure:
    """Observed conversion rate against predicted probability per bin: the active model's
    holdout at training, and the live leads (`dashboards.live`). On the diagonal is perfect."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            name="Perfect calibration",
            mode="lines",
            line={"color": PALETTE["muted"], "dash": "dot", "width": 1},
            hoverinfo="skip",
        )
    )
    # The live line dashed over a wider holdout line: a replayed holdout (the demo's first
    # live leads) is the same leads, and one line must not hide the other.
    for name, bins, line in (
        ("Holdout at training", holdout, {"color": PALETTE["primary"], "width": 4}),
        ("Live leads", outcomes, {"color": PALETTE["nurture"], "dash": "dash"}),
    ):
        x, y, counts = _bin_points(bins)
        if x:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=name,
                    mode="lines+markers",
                    line=line,
                    customdata=counts,
                    hovertemplate="predicted %{x:.0%}<br>observed %{y:.0%}<br>"
                    "%{customdata} leads<extra></extra>",
                )
            )
    fig.update_xaxes(title_text="Predicted probability", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="Observed conversion", range=[0, 1], tickformat=".0%")
    return figure_style(fig, height=320)


def lift(*, model: Sequence[dict[str, Any]], points: Sequence[dict[str, Any]]) -> go.Figure:
    """Cumulative lift of the top share of leads by the model's probability and by the point
    score; 1x is picking at random."""
    fig = go.Figure()
    for name, curve, colour in (
        ("AI model", model, PALETTE["primary"]),
        ("Point score", points, PALETTE["muted"]),
    ):
        if curve:
            fig.add_trace(
                go.Scatter(
                    x=[c["share"] for c in curve],
                    y=[c["lift"] for c in curve],
                    name=name,
                    mode="lines+markers",
                    line={"color": colour},
                    hovertemplate="top %{x:.0%}: %{y:.2f}x<extra></extra>",
                )
            )
    fig.add_hline(y=1, line={"color": PALETTE["muted"], "dash": "dot", "width": 1})
    fig.update_xaxes(title_text="Top share of leads by score", tickformat=".0%")
    fig.update_yaxes(title_text="Lift (x base rate)", rangemode="tozero")
    return figure_style(fig, height=320)


def psi_bars(features: Sequence[dict[str, Any]]) -> go.Figure:
    """PSI per feature, coloured by level (stable, moderate, major)."""
    colours = {
        "stable": PALETTE["sales_ready"],
        "moderate": PALETTE["nurture"],
        "major": PALETTE["disqualified"],
    }
    shown = [f for f in features if f.get("psi") is not None]
    fig = go.Figure(
        go.Bar(
            x=[f["psi"] for f in shown],
            y=[f["label"] for f in shown],
            orientation="h",
            marker={"color": [colours.get(f["level"], PALETTE["muted"]) for f in shown]},
            hovertemplate="%{y}: PSI %{x:.3f}<extra></extra>",
        )
    )
    fig.add_vline(x=0.1, line={"color": PALETTE["nurture"], "dash": "dot", "width": 1})
    fig.add_vline(x=0.25, line={"color": PALETTE["disqualified"], "dash": "dot", "width": 1})
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="Population stability index", rangemode="tozero")
    return figure_style(fig, height=max(200, 34 * len(shown) + 80))


def distribution(feature: dict[str, Any]) -> go.Figure:
    """One feature's bins at training and now, as shares."""
    bins = feature.get("bins", [])
    fig = go.Figure()
    for key, name, colour in (
        ("training", "At training", PALETTE["muted"]),
        ("current", "Last 30 days", PALETTE["primary"]),
    ):
        fig.add_trace(
            go.Bar(
                x=[b["level"] for b in bins],
                y=[b[key] for b in bins],
                name=name,
                marker={"color": colour},
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return figure_style(fig, height=260)
