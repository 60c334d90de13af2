"""The benchmark report: the protocol, the figures, a per-clip CSV, the per-frame scores, a ROC plot and a
text table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.config import Config
from detector.training.metrics import roc_curve
from stream_server.benchmark.outcome import ClipOutcome

if TYPE_CHECKING:
    from detector.pipeline import ModelInfo


def protocol(config: Config, info: ModelInfo, sources: list[str], splits: list[str] | None) -> dict[str, Any]:
    """How every number in the report was measured."""
    return {
        "input": sources,
        "split": splits,
        "model": info.name,
        "model_trained": info.trained,
        "threshold": info.threshold,
        "uncertain_margin": info.uncertain_margin,
        "calibration_method": info.calibration.method,
        "bound": info.rule.bound,
        "frame_clip": info.rule.clip,
        "drift": info.rule.drift,
        "analysis_fps": config.analysis.fps,
        "path": "the analyze/serve path: decode, face detection and tracking, quality gate, streaming CNN-LSTM "
        "per track, rolling score, verdict, and the server's alert rule",
        "face_aggregation": "per analyzed frame, the highest fake probability over its scored faces",
        "frame_aggregation": "video score = mean of those per-frame values over the clip's frames with a score",
        "calibration": f"every probability is the model's output calibrated ({info.calibration.method}) to "
        "P(fake) at equal priors; the raw output is kept in frames.csv",
        "verdict": f"fake at or above the threshold, real below threshold - {info.uncertain_margin}, else uncertain "
        f"(and uncertain with fewer than {config.scoring.min_frames} scored frames)",
        "alert_rule": f"per face track, Page's CUSUM of calibrated per-frame log-odds clipped to +-{info.rule.clip}, "
        f"minus a drift of {info.rule.drift} per scored frame, floored at 0 (abstained frames add nothing); an "
        f"alert starts at evidence {info.rule.bound} after >= {info.rule.min_frames} scored frames and ends below "
        f"{info.rule.release} x the bound",
        "false_alerts": "alerts started on real clips per hour of analyzed real video, with the exact one-sided "
        "95 % Poisson upper bound (3 / hours when there are none: the rule of three)",
        "family_and_generator_figures": "each family's (generator's) fakes against all real clips",
        "time_to_first_alert": "seconds of video from the clip's first analyzed frame to the first alert; a fake "
        "clip that never alerts counts as later than every other (a quantile landing there is null); "
        "*_alerted_s: among the fakes that alerted",
        "alert_curve": "the same alert figures recomputed from the stored per-frame scores as the bound varies",
    }


def write_outputs(out: Path, report: dict[str, Any], outcomes: list[ClipOutcome], roc: bool = True) -> None:
    """report.json, clips.csv, frames.csv and (with `roc`) roc.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    rows = [o.as_row() for o in outcomes]
    with (out / "clips.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["name"])
        writer.writeheader()
        writer.writerows(rows)
    write_frames(out / "frames.csv", outcomes)
    if roc:
        plot_roc(outcomes, report, out / "roc.png")


FRAME_COLUMNS = ["clip", "label", "track", "t", "raw", "reason"]


def write_frames(path: Path, outcomes: list[ClipOutcome]) -> None:
    """Every face of every analyzed frame with the model's raw probability (what `replay` reads back)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FRAME_COLUMNS)
        for o in outcomes:
            for f in o.frames:  # repr: the exact values, so a replay reproduces the live run to the last bit
                raw = "" if f.raw is None else repr(f.raw)
                writer.writerow([o.name, o.label, f.track, repr(f.t), raw, f.reason])


def plot_roc(outcomes: list[ClipOutcome], report: dict[str, Any], path: Path) -> None:
    """Video-level ROC overall and per family (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    reals = [o for o in outcomes if o.label == 0 and o.video_score is not None]
    groups = {"all": [o for o in outcomes if o.label == 1]}
    groups.update({f: [o for o in outcomes if o.label == 1 and o.family == f] for f in report["per_family"]})
    for name, fakes in groups.items():
        scored = reals + [o for o in fakes if o.video_score is not None]
        labels = np.array([o.label for o in scored])
        if not (labels == 0).any() or not (labels == 1).any():
            continue
        roc = roc_curve(labels, np.array([o.video_score for o in scored], np.float64))
        figures = report["overall"] if name == "all" else report["per_family"][name]
        ax.plot(
            roc.fpr,
            roc.tpr,
            lw=2 if name == "all" else 1,
            label=f"{name} (n={figures['fakes']}) AUC {figures['auc']:.3f}",
        )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--", label="chance")
    ax.set(xlabel="video false-positive rate", ylabel="video true-positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(f"{report['protocol']['model']}, video level", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_alert_curve(report: dict[str, Any], path: Path) -> None:
    """False alerts per hour of real video against the fakes' median time to first alert, as the bound
    varies; each point is labelled with its bound and the share of fakes that alert."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    bound = report["protocol"]["bound"]
    points = [
        (row["bound"], row["time_to_first_alert"], row["false_alerts"])
        for row in report["alert_curve"]
        if row["time_to_first_alert"]["median_alerted_s"] is not None and row["false_alerts"]["per_hour"] is not None
    ]
    xs = [tta["median_alerted_s"] for _, tta, _ in points]
    ys = [fa["per_hour"] for _, _, fa in points]
    ups = [fa["per_hour_upper95"] for _, _, fa in points]
    ax.plot(xs, ys, marker="o", ms=3, label="false alerts per hour")
    ax.plot(xs, ups, ls=":", color="grey", label="95 % upper bound")
    for i, (b, tta, fa) in enumerate(points):
        in_force = abs(b - bound) < 1e-3
        if in_force or i % 3 == 0:  # every third point, so the labels stay readable
            text = f"{'* ' if in_force else ''}h={b:.1f}: {tta['share_alerted']:.0%}"
            ax.annotate(text, (tta["median_alerted_s"], fa["per_hour"]), fontsize=6, rotation=30)
    ax.set_yscale("symlog", linthresh=1)
    ax.set(xlabel="median time to first alert among fakes that alert (s)", ylabel="false alerts per hour of real video")
    ax.set_title(
        f"{report['protocol']['model']}: as the bound h varies (label: share of fakes alerting; * in force)", fontsize=8
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f} %" if pct else f"{value:.3f}"


def table(report: dict[str, Any]) -> str:
    """A plain-text summary for the terminal."""
    lines = [
        f"model {report['protocol']['model']}  threshold {report['protocol']['threshold']:.3f}  "
        f"alert bound {report['protocol']['bound']}  "
        f"analysis {report['protocol']['analysis_fps']} fps  clips {report['clips']} {report['status']}"
    ]
    lines.append(f"{'':<34} {'n':>4} {'AUC':>6} {'AP':>6} {'EER':>6} {'TPR@1%':>7} {'TPR@5%':>7}")

    def row(name: str, f: dict[str, Any]) -> str:
        return (
            f"{name[:34]:<34} {f['fakes']:>4} {_fmt(f['auc']):>6} {_fmt(f['ap']):>6} {_fmt(f['eer']):>6} "
            f"{_fmt(f['tpr_at_1pct_fpr']):>7} {_fmt(f['tpr_at_5pct_fpr']):>7}"
        )

    lines.append(row(f"all fakes vs {report['overall']['reals']} reals", report["overall"]))
    lines += [row(f"  family {k}", v) for k, v in report["per_family"].items()]
    lines += [row(f"    {k}", v) for k, v in report["per_generator"].items()]
    at = report["at_threshold"]
    lines.append(f"verdicts on reals {at['verdicts_real']}  video FPR {_fmt(at['video_fpr'], True)}")
    lines.append(f"verdicts on fakes {at['verdicts_fake']}  video TPR {_fmt(at['video_tpr'], True)}")
    tta, fa = report["time_to_first_alert"], report["false_alerts"]
    lines.append(
        f"fakes alerting: {tta['alerted']} of {tta['clips']} ({_fmt(tta['share_alerted'], True)}); time to first "
        f"alert among them: median {_fmt(tta['median_alerted_s'])} s, p90 {_fmt(tta['p90_alerted_s'])} s; over all "
        f"fakes (never = latest): median {_fmt(tta['median_s'])} s, p90 {_fmt(tta['p90_s'])} s"
    )
    lines.append(
        f"false alerts: {fa['alerts']} in {fa['real_hours'] * 60:.1f} min of real video = {_fmt(fa['per_hour'])} "
        f"per hour, 95 % upper bound {_fmt(fa['per_hour_upper95'])} per hour ({fa['real_clips_with_alert']} of "
        f"{fa['real_clips']} real clips alerted)"
    )
    lines.append(f"  {fa['note']}")
    if report.get("calibration"):
        cal = report["calibration"]
        lines.append(f"calibration {cal['method']}: ECE {cal['ece']:.3f} per frame (raw output: {cal['ece_raw']:.3f})")
    for u in report["unscored"]:
        lines.append(f"no score: {u['clip']} ({u['label']}): {u['status']}: {u['reason']}")
    return "\n".join(lines)
