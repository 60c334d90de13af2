// Overview: every stream as a card with status, rate, current highest score, sparkline, faces, alert.

import { h, replace, setText, fmtPercent } from "../dom.js";
import { drawSparkline } from "../chart.js";
import { getTimeline } from "../api.js";
import { kindText, resultVerdict, statusText, streamVerdict } from "../verdict.js";
import { every, onStoreChange, syncThumbnails } from "./common.js";

const THUMB_REFRESH_MS = 2000;

function emptyState() {
  return h(
    "div",
    { class: "empty" },
    h("p", { text: "No streams yet." }),
    h(
      "p",
      {},
      h("a", { class: "button", href: "#/monitor", text: "Monitor my call" }),
      " ",
      h("a", { class: "button secondary", href: "#/add", text: "Add a camera or file" }),
    ),
  );
}

function buildCard(id) {
  const parts = {
    title: h("a", { href: `#/stream/${encodeURIComponent(id)}` }),
    alert: h("span", { class: "badge badge-alert", hidden: true, text: "ALERT" }),
    status: h("span", { class: "status" }),
    // Which cluster node runs the stream (absent on a single-process server).
    owner: h("span", { class: "owner" }),
    kind: h("span", { class: "kind" }),
    score: h("span", { class: "score-value" }),
    verdict: h("span", { class: "score-label" }),
    evidence: h("meter", { class: "evidence-bar", min: 0, max: 1, high: 0.5, optimum: 0, value: 0 }),
    spark: h("canvas", { class: "spark", "aria-hidden": "true" }),
    faces: h("div", { class: "thumbs" }),
    stats: h("p", { class: "stats" }),
    error: h("p", { class: "card-error" }),
  };
  parts.el = h(
    "article",
    { class: "card", "data-stream": id },
    h("header", { class: "card-head" }, h("h2", {}, parts.title), parts.alert),
    h("p", { class: "meta" }, parts.kind, " · ", parts.status, parts.owner),
    parts.error,
    h("p", { class: "score" }, parts.verdict, parts.score),
    parts.evidence,
    parts.spark,
    parts.faces,
    parts.stats,
  );
  return parts;
}

const isFinishedFile = (stream) => stream.kind === "upload" && stream.status === "stopped" && !stream.error;

function cardVerdict(stream, store) {
  if (isFinishedFile(stream)) {
    const result = resultVerdict(store.history.get(stream.id), store.model);
    return { ...result, top: result.top ?? null };
  }
  const verdict = streamVerdict(stream, store.facesOf(stream.id), store.model, store.connection);
  return { ...verdict, top: verdict.top ?? store.highest(stream.id) };
}

function sparkPoints(stream, store) {
  // A file's sparkline covers the whole video (by stream time); a live one the last minutes.
  if (stream.kind === "upload") return { points: store.topSeries(stream.id, "t"), span: Infinity, min: 1 };
  return { points: store.topSeries(stream.id, "wall"), span: 120, min: 30 };
}

function updateCard(card, stream, store, refreshThumbs) {
  const faces = store.facesOf(stream.id);
  const verdict = cardVerdict(stream, store);
  const top = verdict.top;
  card.el.dataset.verdict = verdict.cls;
  setText(card.title, stream.name);
  setText(card.kind, kindText(stream.kind));
  setText(card.status, statusText(stream.status));
  setText(card.owner, "owner" in stream ? ` · on ${stream.owner ?? "no worker yet"}` : "");
  setText(card.error, stream.error || "");
  card.status.dataset.status = stream.status;
  setText(card.score, top === null || top === undefined ? "–" : fmtPercent(top));
  // An untrained model's numbers are placeholders: say so next to every verdict word.
  const caveat = top !== null && store.modelKnown && !store.model.trained ? " (untrained model)" : "";
  setText(card.verdict, verdict.title + caveat);
  card.alert.hidden = !store.alerting(stream.id);
  setText(card.stats, statsLine(stream));
  const spark = sparkPoints(stream, store);
  const share = spark.points.length ? spark.points[spark.points.length - 1].y : null;
  card.evidence.value = Math.min(1, share ?? 0);
  card.evidence.title = share === null ? "no evidence yet" : `evidence ${Math.round(share * 100)} % of the alert bound`;
  card.evidence.setAttribute("aria-label", card.evidence.title);
  drawSparkline(card.spark, spark.points, spark.span, spark.min);
  syncThumbnails(card.faces, stream.id, faces, refreshThumbs);
}

function statsLine(stream) {
  const progress = stream.kind === "upload" && stream.progress !== null ? ` · ${fmtPercent(stream.progress)} done` : "";
  if (stream.status === "stopped") return `${stream.analyzed ?? 0} frames analyzed · ${stream.dropped ?? 0} dropped`;
  return `${(stream.fps ?? 0).toFixed(1)} fps analyzed · ${stream.dropped ?? 0} dropped${progress}`;
}

/** Mount the overview into `root`; returns the unmount function. */
export function mount(root, { store }) {
  const grid = h("div", { class: "cards" });
  root.append(h("h1", { tabindex: "-1", text: "Streams" }), grid);
  const cards = new Map();
  const render = (refreshThumbs = false) => {
    const streams = [...store.streams.values()].sort((a, b) => b.created - a.created);
    for (const [id, card] of cards) if (!store.streams.has(id)) (card.el.remove(), cards.delete(id));
    if (!streams.length) return replace(grid, emptyState());
    grid.querySelector(".empty")?.remove();
    streams.forEach((stream, i) => {
      if (!cards.has(stream.id)) cards.set(stream.id, buildCard(stream.id));
      const card = cards.get(stream.id);
      // Move a card only when out of place: moving a node takes keyboard focus away from its link.
      if (grid.children[i] !== card.el) grid.insertBefore(card.el, grid.children[i] || null);
      updateCard(card, stream, store, refreshThumbs);
    });
  };
  const fetched = new Set();
  const fetchFinished = () => {
    // A finished file's card shows its result, which needs its stored timeline (once per file).
    for (const stream of store.streams.values()) {
      if (!isFinishedFile(stream) || fetched.has(stream.id)) continue;
      fetched.add(stream.id);
      getTimeline(stream.id, { limit: 20000 })
        .then((points) => store.seedHistory(stream.id, points))
        .catch((err) => console.warn("timeline unavailable:", err.message));
    }
  };
  render(true);
  fetchFinished();
  const stops = [
    onStoreChange(store, () => (fetchFinished(), render(false))),
    every(THUMB_REFRESH_MS, () => render(true)),
  ];
  const onTheme = () => render(false);
  window.addEventListener("themechange", onTheme);
  return () => {
    stops.forEach((stop) => stop());
    window.removeEventListener("themechange", onTheme);
  };
}
