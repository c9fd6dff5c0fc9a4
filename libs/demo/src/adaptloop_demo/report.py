"""`var/demo/report.html`: the signals with the detection point, quality over time by version,
and the adapter's version timeline, as inline SVG (no plotting library needed)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from adaptloop_demo.scenario import DemoResult
from adaptloop_demo.summary import LOOP_FIGURES, cell, figure_values

W, H, PAD = 900, 260, 40
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
LEVEL_COLORS = ["#444444", "#2ca02c"]
LEVELS = (("pre-shift level", "pre_shift"), ("oracle level", "oracle"))
FIGURE_ROWS = (
    ("pre-shift: old version, old domain (held-out)", "level_pre_shift"),
    ("shifted: old version, new domain (held-out)", "level_shifted"),
    ("new version, new domain (held-out)", "level_new_version"),
    ("new version, old domain (held-out)", "level_new_version_on_old_domain"),
    ("oracle: trained offline on the new domain (held-out)", "level_oracle"),
    ("recovery vs the oracle", "recovery_ratio_vs_oracle"),
    ("live rating: old version before the shift / after the shift / new version", "live_ratings"),
    *LOOP_FIGURES,
)


def _rolling(values: list[float], window: int = 20) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def _svg_series(
    title: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    marks: list[tuple[float, str]],
    y_range: tuple[float, float],
    levels: list[tuple[str, float]] | None = None,
) -> str:
    xs = [x for _, pts in series for x, _ in pts] + [m for m, _ in marks]
    if not xs:
        return f"<p>{html.escape(title)}: no data</p>"
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = y_range

    def sx(x: float) -> float:
        return PAD + (x - x0) / ((x1 - x0) or 1) * (W - 2 * PAD)

    def sy(y: float) -> float:
        return H - PAD - (y - y0) / ((y1 - y0) or 1) * (H - 2 * PAD)

    parts = [
        f'<svg width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg" role="img">',
        f'<text x="{PAD}" y="20" font-size="14">{html.escape(title)}</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>',
        f'<text x="4" y="{sy(y1) + 4}" font-size="10">{y1:g}</text>',
        f'<text x="4" y="{sy(y0) + 4}" font-size="10">{y0:g}</text>',
    ]
    for i, (name, pts) in enumerate(series):
        if not pts:
            continue
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        parts.append(
            f'<text x="{W - PAD - 160}" y="{20 + 14 * i}" font-size="11" fill="{color}">{html.escape(name)}</text>'
        )
    for i, (label, y) in enumerate(levels or []):
        color = LEVEL_COLORS[i % len(LEVEL_COLORS)]
        parts.append(f'<line x1="{PAD}" y1="{sy(y):.1f}" x2="{W - PAD}" y2="{sy(y):.1f}" stroke="{color}" '
                     'stroke-width="1" stroke-dasharray="6 3"/>')
        parts.append(f'<text x="{PAD + 4}" y="{sy(y) - 3:.1f}" font-size="10" fill="{color}">'
                     f'{html.escape(label)} {y:.2f}</text>')
    for x, label in marks:
        parts.append(
            f'<line x1="{sx(x):.1f}" y1="{PAD}" x2="{sx(x):.1f}" y2="{H - PAD}" stroke="#555" stroke-dasharray="4"/>'
        )
        parts.append(f'<text x="{sx(x) + 3:.1f}" y="{PAD + 10}" font-size="10">{html.escape(label)}</text>')
    parts.append(f'<text x="{W / 2 - 40}" y="{H - 8}" font-size="11">request number</text></svg>')
    return "".join(parts)


def write_report(path: Path, result: DemoResult, summary: dict[str, Any]) -> Path:
    served = sorted(result.served, key=lambda s: s.index)
    index_of_time = [(s.at, s.index) for s in served]

    def index_at(t: float) -> float:
        return next((i for at, i in index_of_time if at >= t), served[-1].index if served else 0)

    marks = [
        (float(index_at(result.shift_at + m["seconds_after_shift"])), m["name"])
        for m in summary["milestones"]
        if m["name"] in ("traffic shifts", "drift detected", "first request on the new version")
    ]
    scores = [s.score for s in served]
    rolling = _rolling(scores)
    by_version: dict[str, list[tuple[float, float]]] = {}
    for s, r in zip(served, rolling, strict=True):
        by_version.setdefault(f"v{s.version}", []).append((float(s.index), r))
    signal = _svg_series(
        "Rating (rolling mean of 20) - the quality signal drift watches",
        [("rolling rating", [(float(s.index), r) for s, r in zip(served, rolling, strict=True)])],
        marks,
        (-1.0, 1.0),
    )
    held_out = summary.get("levels") or {}
    levels = [(label, float(held_out[key])) for label, key in LEVELS if isinstance(held_out.get(key), (int, float))]
    quality = _svg_series(
        "Quality over time, coloured by the version that served", sorted(by_version.items()), marks, (-1.0, 1.0),
        levels,
    )
    versions = sorted({s.version for s in served})
    level = {v: i for i, v in enumerate(versions)}
    timeline = _svg_series(
        "Version serving each request",
        [("version", [(float(s.index), float(level[s.version])) for s in served])],
        marks,
        (0.0, float(max(1, len(versions) - 1))),
    )
    rows = "".join(
        f"<tr><td>{html.escape(m['name'])}</td><td>{m['seconds_after_shift']:+.1f} s</td>"
        f"<td>{html.escape(m['detail'])}</td></tr>"
        for m in summary["milestones"]
    )
    shown = figure_values(summary)
    figures = "".join(f"<tr><td>{html.escape(label)}</td><td>{html.escape(cell(shown.get(key)))}</td></tr>"
                      for label, key in FIGURE_ROWS)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>adaptloop demo report</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}td,th{{padding:2px 10px}}</style></head><body>
<h1>adaptloop: continuous adaptation</h1>
<h2>Timeline</h2><table><tr><th>step</th><th>after the shift</th><th>detail</th></tr>{rows}</table>
<h2>Figures</h2><table>{figures}</table>
<h2>Signals</h2>{signal}<h2>Quality</h2>{quality}<h2>Versions</h2>{timeline}
<p>Versions: {", ".join(html.escape(v) for v in versions)}</p></body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
