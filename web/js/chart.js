// Charts drawn on <canvas> (no library): a sparkline for cards and a per-face evidence chart. Both plot
// evidence as a share of the alert bound (0 … 2, the cap) with the bound itself as the dashed line.
// Colours come from CSS custom properties so both themes apply.

const TRACK_COLORS = ["--series-1", "--series-2", "--series-3", "--series-4", "--series-5", "--series-6"];

function css(name, el = document.documentElement) {
  return getComputedStyle(el).getPropertyValue(name).trim() || "#888";
}

export const trackColor = (track) => css(TRACK_COLORS[Math.abs(track) % TRACK_COLORS.length]);

/** Size the canvas backing store to its CSS box × devicePixelRatio; returns a 2D context in CSS pixels. */
function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const { width, height } = canvas.getBoundingClientRect();
  const w = Math.max(1, Math.round(width * ratio));
  const h = Math.max(1, Math.round(height * ratio));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

function line(ctx, points, x, y) {
  ctx.beginPath();
  let drawing = false;
  for (const p of points) {
    if (p.y === null || p.y === undefined) {
      drawing = false; // a gap where the face was not judged
      continue;
    }
    if (drawing) ctx.lineTo(x(p.x), y(p.y));
    else ctx.moveTo(x(p.x), y(p.y));
    drawing = true;
  }
  ctx.stroke();
}

function thresholdLine(ctx, yPos, width, left = 0) {
  ctx.save();
  ctx.setLineDash([4, 3]);
  ctx.strokeStyle = css("--fake");
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, yPos);
  ctx.lineTo(width, yPos);
  ctx.stroke();
  ctx.restore();
}

const Y_MAX = 2; // evidence is capped at twice the alert bound

/**
 * A small line of `points` [{x, y}] with y the evidence share of the bound (0..2), plus the bound. It spans
 * the data it has (at least `minSpanS`, so a new stream does not fill the card with noise) up to the last
 * `maxSpanS`.
 */
export function drawSparkline(canvas, points, maxSpanS = 120, minSpanS = 30) {
  const { ctx, width, height } = prepare(canvas);
  if (!points.some((p) => p.y !== null && p.y !== undefined)) return; // nothing judged: leave it blank
  const end = points[points.length - 1].x;
  const spanS = Math.min(maxSpanS, Math.max(minSpanS, end - points[0].x));
  const x = (v) => ((v - (end - spanS)) / spanS) * width;
  const y = (v) => height - 2 - (v / Y_MAX) * (height - 4);
  thresholdLine(ctx, y(1), width);
  ctx.strokeStyle = css("--accent");
  ctx.lineWidth = 1.5;
  line(ctx, points.filter((p) => p.x >= end - spanS), x, y);
}

const PAD = { left: 36, right: 8, top: 8, bottom: 20 };

function axes(ctx, width, height, y, labels) {
  ctx.fillStyle = css("--muted");
  ctx.strokeStyle = css("--grid");
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (const [v, text] of [[0, "0"], [0.5, "½"], [1, "alert"], [1.5, "1½"], [2, "2×"]]) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, y(v));
    ctx.lineTo(width - PAD.right, y(v));
    ctx.stroke();
    ctx.fillText(text, 2, y(v) + 4);
  }
  ctx.fillText(labels[0], PAD.left, height - 4);
  ctx.textAlign = "right";
  ctx.fillText(labels[1], width - PAD.right, height - 4);
  ctx.textAlign = "left";
}

/**
 * Per-face evidence over the last `spanS` seconds, as a share of the alert bound (the dashed line).
 * `series` is [{track, points: [{x: seconds, y: 0..2 | null}]}]; `end` the newest x; `labels` the
 * texts under the left and right ends of the x axis.
 */
export function drawChart(canvas, series, end, spanS = 180, labels = null) {
  const { ctx, width, height } = prepare(canvas);
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const x = (v) => PAD.left + ((v - (end - spanS)) / spanS) * plotW;
  const y = (v) => PAD.top + (1 - v / Y_MAX) * plotH;
  axes(ctx, width, height, y, labels || [`−${Math.round(spanS / 60)} min`, "now"]);
  thresholdLine(ctx, y(1), width - PAD.right, PAD.left);
  ctx.lineWidth = 2;
  for (const s of series) {
    ctx.strokeStyle = trackColor(s.track);
    line(ctx, s.points.filter((p) => p.x >= end - spanS), x, y);
  }
}
