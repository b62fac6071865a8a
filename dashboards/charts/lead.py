"""Figures of the SDR pages: a lead's behaviour over time and an account's combined engagement.

Pure: plain rows in, a Plotly figure out. The pages print the same numbers in a table beside
each chart, so nothing here is the only place a number is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

import plotly.graph_objects as go

from dashboards.charts import PALETTE, figure_style

# The stages of a buying journey, in the order they stack (the seed's "progressed from
# educational to evaluation content" reads bottom to top).
STAGE_COLOURS: dict[str, str] = {
    "learning": PALETTE["muted"],
    "consideration": "#5b8fc7",
    "evaluation": PALETTE["primary"],
    "conversation": PALETTE["sales_ready"],
    "email": "#c9a227",
}


def _count_step(values: Sequence[int]) -> int:
    """A whole-number tick step giving about four ticks: counts have no fractions."""
    return max(1, math.ceil(max(values, default=0) / 4))


def _week_labels(weeks: Sequence[date]) -> list[str]:
    return [week.isoformat() for week in weeks]


def behaviour_timeline(
    *,
    weeks: Sequence[date],
    series: Mapping[str, Sequence[int]],
    labels: Mapping[str, str],
) -> go.Figure:
    """Touchpoints per week stacked by journey stage (`series`: stage -> one count per week)."""
    fig = go.Figure()
    x = _week_labels(weeks)
    for stage, counts in series.items():
        fig.add_trace(
            go.Bar(
                x=x,
                y=list(counts),
                name=labels.get(stage, stage),
                marker_color=STAGE_COLOURS.get(stage, PALETTE["muted"]),
                hovertemplate="Week of %{x}<br>%{y} touchpoints<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(barmode="stack", bargap=0.25)
    fig.update_xaxes(type="category", title_text=None, tickangle=-45)
    totals = [sum(week) for week in zip(*series.values(), strict=True)] if series else []
    fig.update_yaxes(title_text="Touchpoints", rangemode="tozero", dtick=_count_step(totals))
    return _legend_on_top(figure_style(fig, height=300))


def _legend_on_top(fig: go.Figure) -> go.Figure:
    # The shared style puts the legend under the plot, where slanted week labels run into it.
    fig.update_layout(
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        margin={"t": 48},
    )
    return fig


def account_engagement(
    *,
    weeks: Sequence[date],
    known: Sequence[int],
    anonymous: Sequence[int],
    people: Sequence[int],
) -> go.Figure:
    """Touchpoints per week from known leads and anonymous visitors (stacked bars), and the
    number of distinct people active each week (a line on its own axis)."""
    x = _week_labels(weeks)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=list(known),
            name="Known people",
            marker_color=PALETTE["primary"],
            hovertemplate="Week of %{x}<br>%{y} touchpoints<extra>Known people</extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=list(anonymous),
            name="Anonymous visitors",
            marker_color=PALETTE["muted"],
            hovertemplate="Week of %{x}<br>%{y} touchpoints<extra>Anonymous</extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=list(people),
            name="People active",
            mode="lines+markers",
            yaxis="y2",
            line={"color": PALETTE["sales_ready"], "width": 2},
            hovertemplate="Week of %{x}<br>%{y} people<extra>People active</extra>",
        )
    )
    fig.update_layout(
        barmode="stack",
        bargap=0.25,
        yaxis={
            "title": {"text": "Touchpoints"},
            "rangemode": "tozero",
            "dtick": _count_step([k + a for k, a in zip(known, anonymous, strict=True)]),
        },
        yaxis2={
            "title": {"text": "People"},
            "dtick": _count_step(people),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
    )
    fig.update_xaxes(type="category", tickangle=-45)
    styled = _legend_on_top(figure_style(fig, height=300))
    styled.update_layout(margin={"r": 48})
    return styled
