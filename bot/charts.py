"""The /stats picture: questions per day by band, with the share of 👍 among votes."""

from __future__ import annotations

import io

from bot.texts import admin as admin_texts
from knowledge_base.stats import Stats
from knowledge_base.types import Band

COLOURS = {Band.ANSWER: "#2e7d32", Band.SUGGEST: "#f9a825", Band.NOTHING: "#c62828"}


def daily_chart(stats: Stats) -> bytes:
    """A PNG: stacked bars of questions per day (answered, suggested, unanswered) and a line
    of the 👍 share; readable at a glance, also for one day and for no questions at all.

    matplotlib is imported here, at the first chart: 30 MB the serving bot need not carry."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on a server
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    days = stats.days
    labels = [d.day.strftime("%d.%m") for d in days]
    positions = list(range(len(days)))
    figure, axes = plt.subplots(figsize=(9, 4.8), dpi=110)
    bottom = [0] * len(days)
    for band in Band:
        values = [d.by_band[band] for d in days]
        axes.bar(
            positions,
            values,
            bottom=bottom,
            color=COLOURS[band],
            label=admin_texts.CHART_BANDS[band],
            width=0.7,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_title(admin_texts.chart_title(len(days)))
    axes.set_ylabel(admin_texts.CHART_Y)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max(max(bottom, default=0), 1) * 1.15)
    step = max(1, len(days) // 12)  # at most a dozen dates under the axis
    axes.set_xticks(positions[::step], labels[::step])
    # A few days keep bars of the usual width instead of one bar across the chart.
    pad = max(0.0, (7 - len(days)) / 2)
    axes.set_xlim(-0.6 - pad, len(days) - 0.4 + pad)
    if not stats.total:
        axes.text(
            0.5, 0.5, admin_texts.CHART_EMPTY, transform=axes.transAxes, ha="center", va="center"
        )
    rates = [
        (p, d.helpful / (d.helpful + d.not_helpful))
        for p, d in zip(positions, days, strict=True)
        if d.helpful + d.not_helpful
    ]
    handles, names = axes.get_legend_handles_labels()
    if rates:
        share = axes.twinx()
        share.plot(
            [p for p, _ in rates], [r for _, r in rates], color="#1565c0", marker="o", linewidth=2
        )
        share.set_ylim(0, 1.05)
        share.yaxis.set_major_formatter(PercentFormatter(1.0))
        share.set_ylabel(admin_texts.CHART_HELPFUL)
        handles += share.lines[:1]
        names += [admin_texts.CHART_HELPFUL]
    # Below the plot: over it, the legend would hide bars.
    axes.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
