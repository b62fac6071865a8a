"""Plotly figure builders: pure functions from plain rows to figures, no ORM.

`render` turns a figure into an HTML fragment for a template; plotly.js itself is served once
from `static/vendor/` by the page, never inlined or fetched from a CDN.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

# One look for every chart: the app's palette and font, no toolbar clutter.
PALETTE = {
    "sales_ready": "#1a7f37",
    "nurture": "#b7791f",
    "disqualified": "#9b2c2c",
    "needs_review": "#6b46c1",
    "primary": "#1f4e79",
    "muted": "#8a94a6",
}

_CONFIG = {"displayModeBar": False, "responsive": True}


def figure_style(fig: go.Figure, *, height: int = 280) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 48, "r": 16, "t": 24, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(gridcolor="#e5e9f0", zeroline=False)
    fig.update_yaxes(gridcolor="#e5e9f0", zeroline=False)
    return fig


def render(fig: go.Figure, *, element_id: str) -> str:
    """The figure as a <div> plus the script that draws it, for `{{ chart|safe }}`.

    The page loads `static/vendor/plotly-basic.min.js`; templates keep a table of the same
    numbers beside each chart so that the page reads without JavaScript.
    """
    html: str = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        config=_CONFIG,
        div_id=element_id,
        default_height=f"{fig.layout.height or 280}px",
    )
    return html
