"""A report as one self-contained HTML page: inline CSS, crops as data: URIs, charts as inline SVG.

Nothing is fetched when the page is opened (a case file may be read years later, offline), and the
page's own Content-Security-Policy forbids it: only inline styles and data: images may load. Every
value from a stream (names, locations, reasons) is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime

from detector.report.data import Report, ReportAlert, ScorePoint, TrackReport

CHART_W, CHART_H, PAD = 640, 150, 28
CHART_POINTS = 600  # per line: enough for a printed page; the JSON keeps every point

REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:52rem;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee}
th{width:12rem;color:#555;font-weight:600}.meaning{background:#f4f4f6;padding:.75rem 1rem;border-left:4px solid #888}
.verdict{font-weight:700;text-transform:uppercase}.fake,.alert,.likely_fake{color:#b00020}
.real,.looks_real{color:#1b7f3a}.uncertain,.gathering_evidence{color:#8a6d00}
.crops{display:flex;flex-wrap:wrap;gap:.75rem}figure{margin:0;text-align:center;font-size:.8rem}
figure img{width:128px;height:128px;display:block;border:1px solid #ccc}svg{max-width:100%;height:auto}
code{font-size:.85em;word-break:break-all}.muted{color:#666}
@media print{body{margin:0}h2{break-after:avoid}.track{break-inside:avoid}}
"""


def render_html(report: Report) -> str:
    """The whole page as a string."""
    title = f"Deepfake analysis report: {report.source.name}"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">Generated {_e(_when(report.generated_wall))} by deepfake-monitor '
        f"{_e(report.model.software_version)}.</p>",
        f'<p class="meaning" id="meaning">{_e(report.meaning)}</p>',
        _facts(report),
        _alerts(report.alerts),
        "<h2>Faces</h2>",
        *(_track(report, track) for track in report.tracks),
    ]
    if not report.tracks:
        body.append('<p class="muted">No face was found in the analyzed frames.</p>')
    if report.truncated:
        body.append('<p class="muted">The stream stored more scores than a report holds; the latest are left out.</p>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def _facts(report: Report) -> str:
    source, model = report.source, report.model
    rows = [
        ("Stream", source.stream_id),
        ("Source", f"{source.location} ({source.kind})"),
        ("SHA-256", source.sha256 or "not applicable (live source)"),
        ("Started", _when(source.started_wall)),
        ("Ended", _when(source.ended_wall) if source.ended_wall is not None else "still running"),
        ("Stream time analyzed", _span(report.first_t, report.last_t)),
        ("Model", f"{model.name} ({'trained' if model.trained else 'UNTRAINED: scores mean nothing'})"),
        ("Calibration", "Platt scaling" if model.calibration == "platt" else "none (raw model output)"),
        ("Alert bound", f"evidence {model.bound:.1f}"),
        ("Verdict threshold", f"{model.threshold:.3f} (calibrated probability)"),
    ]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_code(k, v)}</td></tr>" for k, v in rows)
    return f'<h2>Source and model</h2><table id="facts">{cells}</table>'


def _code(key: str, value: str) -> str:
    return f"<code>{_e(value)}</code>" if key == "SHA-256" else _e(value)


def _alerts(alerts: tuple[ReportAlert, ...]) -> str:
    if not alerts:
        return '<h2>Alerts</h2><p id="alerts" class="muted">No alert was raised.</p>'
    rows = "".join(
        f"<tr><td>face #{a.track_id}</td><td>{a.start_t:.2f} s ({_e(_when(a.start_wall))})</td>"
        f"<td>{_e(_end(a))}</td><td>{a.peak:.0%}</td><td>{a.evidence:.1f} (peak {a.peak_evidence:.1f})</td>"
        f"<td>{_e(_built_by(a))}</td></tr>"
        for a in alerts
    )
    head = (
        "<tr><th>Face</th><th>Started</th><th>Ended</th><th>Peak probability</th><th>Evidence</th>"
        "<th>Built by</th></tr>"
    )
    return f'<h2>Alerts</h2><table id="alerts">{head}{rows}</table>'


def _built_by(alert: ReportAlert) -> str:
    """The frames behind an alert's evidence, in words: how many, over what span, the strongest ones."""
    if not alert.frames:
        return "-"
    first, last = alert.frames[0].t, alert.frames[-1].t
    strongest = sorted(alert.frames, key=lambda f: -f.increment)[:3]
    top = ", ".join(f"{f.t:.2f} s ({f.prob:.0%})" for f in sorted(strongest, key=lambda f: f.t))
    return f"{len(alert.frames)} scored frames, {first:.2f}-{last:.2f} s; strongest at {top}"


def _end(alert: ReportAlert) -> str:
    if alert.end_t is None:
        return "still active"
    return f"{alert.end_t:.2f} s ({alert.end_reason or 'score'})"


def _track(report: Report, track: TrackReport) -> str:
    state = track.judgement.value
    mean = "-" if track.mean_prob is None else f"{track.mean_prob:.0%}"
    peak = "-" if track.max_rolling is None else f"{track.max_rolling:.0%}"
    parts = [
        f'<section class="track" id="track-{track.track_id}"><h3>Face #{track.track_id}: '
        f'<span class="verdict {state}">{_e(state.replace("_", " "))}</span></h3>',
        f"<p>Seen {_span(track.first_t, track.last_t)} in {track.frames_seen} analyzed frames, scored in "
        f"{track.frames_scored}; highest evidence {track.max_evidence:.1f} of {report.model.bound:.1f} "
        f"(the alert bound); mean fake probability {mean}, highest rolling {peak}; verdict by the mean: "
        f"{track.verdict.value}.</p>",
        _chart(report, track),
        _abstentions(track),
        _crops(track),
        "</section>",
    ]
    return "\n".join(parts)


def _abstentions(track: TrackReport) -> str:
    if not track.abstentions:
        return '<p class="muted">The model scored every frame of this face.</p>'
    items = "".join(
        f"<li>{_e(a.reason.replace('_', ' '))}: {a.frames} frames, {_span(a.first_t, a.last_t)}</li>"
        for a in track.abstentions
    )
    return f'<p>Frames not scored (the model abstains rather than guess):</p><ul class="abstentions">{items}</ul>'


def _crops(track: TrackReport) -> str:
    if not track.crops:
        return ""
    figures = "".join(
        f'<figure><img src="{c.data_uri()}" alt="face #{track.track_id} at {c.t:.2f} s">'
        f"<figcaption>{_caption(c.why, c.t, c.score)}</figcaption></figure>"
        for c in track.crops
    )
    return f'<div class="crops">{figures}</div>'


def _caption(why: str, t: float, score: float | None) -> str:
    value = "-" if score is None else f"{score:.0%}"
    return f"alert start, {t:.2f} s, rolling {value}" if why == "alert" else f"high score, {t:.2f} s, p {value}"


def _chart(report: Report, track: TrackReport) -> str:
    """Evidence (line, dashed: the alert bound) and calibrated per-frame probability (dots, right axis)."""
    t0 = report.first_t or 0.0
    span = max((report.last_t or 0.0) - t0, 1e-6)
    bound = report.model.bound or 1.0
    top = max(2 * bound, track.max_evidence)  # evidence is capped at twice the bound

    def x(t: float) -> float:
        return PAD + (t - t0) / span * (CHART_W - 2 * PAD)

    def y(v: float) -> float:
        return CHART_H - PAD + v * (2 * PAD - CHART_H)

    shapes = [
        f'<rect x="{x(a.start_t):.1f}" y="{y(1):.1f}" width="{max(x(a.end_t or track.last_t) - x(a.start_t), 1):.1f}" '
        f'height="{y(0) - y(1):.1f}" fill="#b00020" fill-opacity="0.12"/>'
        for a in track.alerts
    ]
    shapes.append(_axes(x, y, t0, t0 + span, top))
    shapes.append(
        f'<line x1="{PAD}" x2="{CHART_W - PAD}" y1="{y(bound / top):.1f}" y2="{y(bound / top):.1f}" '
        f'stroke="#b00020" stroke-dasharray="4 3"/>'
    )
    scored = _thin([p for p in track.points if p.prob is not None])
    shapes += [f'<circle cx="{x(p.t):.1f}" cy="{y(p.prob or 0):.1f}" r="1.5" fill="#888"/>' for p in scored]
    line = " ".join(f"{x(p.t):.1f},{y(p.evidence / top):.1f}" for p in _thin(list(track.points)))
    shapes.append(f'<polyline points="{line}" fill="none" stroke="#1f5fbf" stroke-width="1.8"/>')
    shapes += [
        f'<line x1="{x(p.t):.1f}" x2="{x(p.t):.1f}" y1="{y(0):.1f}" y2="{y(0) + 5:.1f}" stroke="#8a6d00"/>'
        for p in _thin([p for p in track.points if p.prob is None])
    ]
    label = (
        f"Evidence of face #{track.track_id} over time (line; dashed: the alert bound {bound:.1f}) and its "
        "calibrated fake probability per frame (dots, right axis)"
    )
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {CHART_H}" role="img" '
        f'aria-label="{_e(label)}"><title>{_e(label)}</title>{"".join(shapes)}</svg>'
    )


def _axes(fx: Callable[[float], float], fy: Callable[[float], float], start: float, end: float, top: float) -> str:
    ticks = "".join(
        f'<text x="{PAD - 4}" y="{fy(v) + 4:.1f}" font-size="10" text-anchor="end">{v * top:.0f}</text>'
        for v in (0, 0.5, 1)
    )
    ticks += "".join(
        f'<text x="{CHART_W - PAD + 3}" y="{fy(v) + 4:.1f}" font-size="10">{v:.0%}</text>' for v in (0, 0.5, 1)
    )
    times = "".join(
        f'<text x="{fx(t):.1f}" y="{CHART_H - 8}" font-size="10" text-anchor="middle">{t:.1f} s</text>'
        for t in (start, (start + end) / 2, end)
    )
    box = (
        f'<rect x="{PAD}" y="{fy(1):.1f}" width="{CHART_W - 2 * PAD}" height="{fy(0) - fy(1):.1f}" '
        'fill="none" stroke="#ccc"/>'
    )
    return box + ticks + times


def _thin(points: list[ScorePoint]) -> list[ScorePoint]:
    """At most CHART_POINTS points, keeping the highest evidence of each time bucket (then probability)."""
    if len(points) <= CHART_POINTS:
        return points
    step = len(points) / CHART_POINTS
    buckets = (points[round(i * step) : round((i + 1) * step)] for i in range(CHART_POINTS))
    return [max(b, key=lambda p: (p.evidence, p.prob or 0)) for b in buckets if b]


def _span(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "-"
    return f"{first:.2f} s to {last:.2f} s"


def _when(wall: float | None) -> str:
    if wall is None:
        return "unknown"
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _e(text: str) -> str:
    return html.escape(text, quote=True)
