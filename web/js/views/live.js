// Live pieces used by the stream view and the call monitor: verdict banner, picture with face
// boxes, per-face chart, and the list of faces.

import { snapshotUrl } from "../api.js";
import { drawChart, trackColor } from "../chart.js";
import { h, replace, setText, fmtPercent } from "../dom.js";
import { drawFaces } from "../overlay.js";
import { evidenceShare, faceVerdict, resultVerdict, streamVerdict } from "../verdict.js";
import { frameSizeOf } from "./common.js";

const SNAPSHOT_MAX_SIDE = 1280;
const LIVE_SPAN_MIN_S = 60;
const LIVE_SPAN_MAX_S = 300;

const agoText = (s) => (s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`); // the server scales snapshots down to this; below it they are full size

/** The big verdict line. Only the title is a live region, so changing percentages are not read out. */
export function verdictBanner() {
  const title = h("strong", { class: "verdict-title", role: "status", "aria-live": "polite" });
  const detail = h("span", { class: "verdict-detail" });
  const el = h("div", { class: "verdict-banner", "data-verdict": "none" }, title, detail);
  return {
    el,
    update(stream, store) {
      const finishedFile = stream?.kind === "upload" && stream.status === "stopped" && !stream.error;
      const v = finishedFile
        ? resultVerdict(store.history.get(stream.id), store.model)
        : streamVerdict(stream, store.facesOf(stream?.id), store.model, store.connection);
      el.dataset.verdict = v.cls;
      const caveat = store.modelKnown && !store.model.trained && v.top !== undefined ? " (untrained model)" : "";
      setText(title, v.title + caveat);
      setText(detail, v.detail);
    },
  };
}

/**
 * The picture with face boxes: a local <video> preview (WebRTC started here) or snapshot.jpg refreshed
 * by the caller. Boxes are in analyzed-frame pixels, learnt from the server or from a full-size snapshot.
 */
export function picture(streamId, media) {
  const overlay = h("canvas", { class: "overlay", "aria-hidden": "true" });
  const placeholder = h("p", { class: "stage-empty", text: "No picture yet" });
  const stage = h("div", { class: "stage" }, placeholder, overlay);
  let element = null;
  let frame = null;
  const learn = (img) => {
    if (Math.max(img.naturalWidth, img.naturalHeight) < SNAPSHOT_MAX_SIDE)
      frame = { w: img.naturalWidth, h: img.naturalHeight };
  };
  if (media) {
    element = h("video", { autoplay: true, muted: true, playsInline: true, "aria-label": "your shared picture" });
    element.srcObject = media;
    stage.prepend(element);
    placeholder.hidden = true;
  }
  return {
    el: stage,
    /** Load a fresh snapshot; swaps it in only once loaded so the picture never flickers. */
    refreshSnapshot() {
      const next = new Image();
      next.alt = "latest analyzed frame";
      next.addEventListener("load", () => {
        learn(next);
        if (media) return; // the live preview is shown; the snapshot only told us the frame size
        next.className = "snapshot";
        if (element) element.replaceWith(next);
        else stage.prepend(next);
        element = next;
        placeholder.hidden = true;
      });
      next.src = snapshotUrl(streamId);
    },
    draw(stream, faces, model) {
      if (!element) return;
      drawFaces(overlay, element, faces, model, frameSizeOf(stream) || frame);
    },
  };
}

/** A chart of each face's evidence over time (dashed: the alert bound), with a colour legend. */
export function faceChart(label) {
  const canvas = h("canvas", { class: "chart", role: "img", "aria-label": label });
  const legend = h("ul", { class: "legend" });
  return {
    el: h("div", { class: "chart-box" }, canvas, legend),
    /** `byTime` = "wall" for live streams (last minutes), "t" for files (the whole video). */
    draw(history, model, byTime = "wall") {
      const judged = (p) => p.judgement && p.judgement !== "gathering_evidence";
      const series = [...(history?.entries() || [])].map(([track, points]) => ({
        track,
        points: points.map((p) => ({ x: p[byTime], y: judged(p) ? evidenceShare(p, model) : null })),
      }));
      const xs = series.flatMap((s) => s.points.map((p) => p.x)).filter((x) => x !== undefined);
      const end = xs.length ? Math.max(...xs) : 0;
      const start = xs.length ? Math.min(...xs) : 0;
      if (byTime === "t") {
        const span = Math.max(end, 1);
        drawChart(canvas, series, end, span, ["0 s", `${Math.round(end)} s`]);
      } else {
        // Live: the data it has, at least a minute and at most the last five.
        const span = Math.min(LIVE_SPAN_MAX_S, Math.max(LIVE_SPAN_MIN_S, end - start));
        drawChart(canvas, series, end, span, [`−${agoText(span)}`, "now"]);
      }
      replace(legend, ...series.map((s) => legendItem(s.track)));
    },
  };
}

function legendItem(track) {
  return h("li", {}, h("span", { class: "swatch", style: `background:${trackColor(track)}` }), `face #${track}`);
}

/** A list of the current faces with their verdict text (readable without the picture). */
export function faceList() {
  const list = h("ul", { class: "face-list" });
  return {
    el: list,
    update(faces, model, stream) {
      const none = stream?.status === "stopped" ? "Stream stopped" : "No face in view";
      if (!faces.length) return replace(list, h("li", { class: "muted", text: none }));
      replace(list, ...faces.map((f) => faceItem(f, model)));
    },
  };
}

function faceItem(face, model) {
  const v = faceVerdict(face, model);
  const share = evidenceShare(face, model);
  const value = face.rolling ?? face.prob;
  const number = value === null || value === undefined ? "" : `fake probability ${fmtPercent(value)}`;
  // The bar is full at the alert bound; it may overflow to the cap (twice the bound), which it clips.
  const bar = h("meter", {
    class: "evidence-bar",
    min: 0,
    max: 1,
    high: 0.5,
    optimum: 0,
    value: Math.min(1, share),
    title: `evidence ${Math.round(share * 100)} % of the alert bound`,
    "aria-label": `evidence ${Math.round(share * 100)} % of the alert bound`,
  });
  return h(
    "li",
    { class: "face-item", "data-verdict": v.cls, "data-track": String(face.track) },
    h("span", { class: "swatch", style: `background:${trackColor(face.track)}` }),
    h("strong", { text: `Face #${face.track}` }),
    h("span", { class: "face-score", text: v.cls === "abstain" ? v.text : v.word }),
    bar,
    h("span", { class: "muted face-number", text: v.cls === "abstain" ? "" : number }),
  );
}
