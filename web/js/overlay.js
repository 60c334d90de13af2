// Face boxes and score labels drawn on a canvas laid over a <video> or <img> (object-fit: contain).
// Boxes arrive in the analyzed frame's pixels; `frame` gives that frame's size so they can be scaled.

import { faceVerdict } from "./verdict.js";

const CLASS_VARS = {
  alert: "--fake",
  fake: "--fake",
  uncertain: "--uncertain",
  real: "--real",
  abstain: "--abstain",
  none: "--muted",
};

function mediaSize(media) {
  if (media instanceof HTMLVideoElement) return { w: media.videoWidth, h: media.videoHeight };
  return { w: media.naturalWidth, h: media.naturalHeight };
}

/** Where the picture sits inside the media element's box under object-fit: contain. */
function contentRect(media, boxW, boxH) {
  const { w, h } = mediaSize(media);
  if (!w || !h) return null;
  const scale = Math.min(boxW / w, boxH / h);
  return { x: (boxW - w * scale) / 2, y: (boxH - h * scale) / 2, w: w * scale, h: h * scale };
}

function prepare(canvas, media) {
  const ratio = window.devicePixelRatio || 1;
  const boxW = media.clientWidth;
  const boxH = media.clientHeight;
  canvas.style.width = `${boxW}px`;
  canvas.style.height = `${boxH}px`;
  canvas.width = Math.max(1, Math.round(boxW * ratio));
  canvas.height = Math.max(1, Math.round(boxH * ratio));
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, boxW, boxH);
  return { ctx, boxW, boxH };
}

function label(ctx, text, x, y, color) {
  ctx.font = "600 13px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 8;
  const top = Math.max(0, y - 18);
  ctx.fillStyle = color;
  ctx.fillRect(x, top, w, 18);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 4, top + 13);
}

/**
 * Draw every face of `faces` over `media`. `frame` = {w, h} of the analyzed frame (boxes' pixel space);
 * when unknown the media's own size is used (right whenever the server saw the same resolution).
 */
export function drawFaces(canvas, media, faces, model, frame) {
  const { ctx, boxW, boxH } = prepare(canvas, media);
  const rect = contentRect(media, boxW, boxH);
  if (!rect) return;
  const src = frame && frame.w ? frame : mediaSize(media);
  const sx = rect.w / src.w;
  const sy = rect.h / src.h;
  const styles = getComputedStyle(document.documentElement);
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box;
    const verdict = faceVerdict(face, model);
    const color = styles.getPropertyValue(CLASS_VARS[verdict.cls] || "--muted").trim();
    const bx = rect.x + x1 * sx;
    const by = rect.y + y1 * sy;
    ctx.lineWidth = 3;
    ctx.strokeStyle = color;
    ctx.strokeRect(bx, by, (x2 - x1) * sx, (y2 - y1) * sy);
    label(ctx, `#${face.track} ${verdict.text}`, bx, by, color);
  }
}
