"""The self-contained HTML report of a monitoring run: the verdict, then three plots —
the target metrics of every version, the drift of every feature against its threshold,
and the champion's metrics over the monitoring runs so far — as inline SVG.

matplotlib draws (its Agg backend, no display); Jinja2 with autoescaping writes the page.
Nothing is fetched when the page is opened: no scripts, fonts or images from elsewhere.
"""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

from diva.monitor.report import headline
from diva.monitor.run import MonitorReport

CHAMPION_COLOR = "#1f4e79"
CHALLENGER_COLORS = ("#e07b39", "#3a9d5d", "#8e5ea2", "#c94c4c")
DRIFTED_COLOR = "#c0392b"
STEADY_COLOR = "#5b8db8"


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(width, height), dpi=96)
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _svg(figure: Any) -> str:
    from matplotlib import pyplot

    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    pyplot.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # the XML prolog and DOCTYPE do not belong inline


def metrics_plot(report: MonitorReport) -> str:
    """Grouped bars: one group per target metric, one bar per version."""
    versions = [report.champion, *report.challengers]
    figure, axes = _figure(7, 3.2)
    width = 0.8 / len(versions)
    colors = (CHAMPION_COLOR, *CHALLENGER_COLORS)
    for index, version in enumerate(versions):
        positions = [n + index * width for n in range(len(report.objectives))]
        values = [version.metrics[item.metric] for item in report.objectives]
        label = f"{version.alias} (v{version.version})"
        axes.bar(positions, values, width, label=label, color=colors[index % len(colors)])
    centers = [n + width * (len(versions) - 1) / 2 for n in range(len(report.objectives))]
    axes.set_xticks(centers, [f"{o.metric} ({o.goal})" for o in report.objectives])
    axes.set_title("Target metrics on the current data")
    axes.legend(frameon=False)
    return _svg(figure)


def drift_plot(report: MonitorReport) -> str:
    """Horizontal bars of each feature's drift, the threshold as a dashed line."""
    figure, axes = _figure(7, 0.5 + 0.45 * max(len(report.drift), 2))
    names = [item.feature for item in report.drift]
    values = [item.value for item in report.drift]
    colors = [DRIFTED_COLOR if item.drifted else STEADY_COLOR for item in report.drift]
    axes.barh(names, values, color=colors)
    if report.drift:
        threshold = report.drift[0].threshold
        axes.axvline(threshold, color="#333333", linestyle="--", label=f"threshold {threshold:g}")
        axes.legend(frameon=False, loc="lower right")
        axes.set_xlabel(report.drift[0].method.upper())
    axes.invert_yaxis()
    axes.set_title(f"Feature drift: {report.current} against {report.reference}")
    return _svg(figure)


def history_plot(report: MonitorReport) -> str:
    """The champion's target metrics over the monitoring runs, oldest first."""
    figure, axes = _figure(7, 3.2)
    labels = [f"{point.when}\nv{point.version}" for point in report.history]
    for index, objective in enumerate(report.objectives):
        values = [point.metrics.get(objective.metric) for point in report.history]
        color = (CHAMPION_COLOR, *CHALLENGER_COLORS)[index % 5]
        axes.plot(range(len(labels)), values, marker="o", label=objective.metric, color=color)
    axes.set_xticks(range(len(labels)), labels, fontsize=7)
    axes.set_title("The champion's metrics, monitoring run by run")
    axes.legend(frameon=False)
    return _svg(figure)


def as_html(report: MonitorReport) -> str:
    import jinja2
    from markupsafe import Markup

    source = resources.files("diva.monitor").joinpath("report.html.j2").read_text("utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = environment.from_string(source)
    plots = {
        "metrics": metrics_plot(report),
        "drift": drift_plot(report),
        "history": history_plot(report),
    }
    return page.render(
        report=report,
        headline=headline(report),
        # matplotlib escapes the text it draws (feature and dataset names) in its SVG
        plots={name: Markup(svg) for name, svg in plots.items()},  # noqa: S704
    )
