// Stream view: the picture with face boxes, per-face probability chart, faces, events.

import { getTimeline, listEvents, removeStream, reportUrl } from "../api.js";
import { h, replace, setText, fmtPercent, fmtTime } from "../dom.js";
import { kindText, statusText } from "../verdict.js";
import { sessions } from "../webrtc.js";
import { every, onStoreChange } from "./common.js";
import { faceChart, faceList, picture, verdictBanner } from "./live.js";

const SNAPSHOT_REFRESH_MS = 1000;
const LIVE_HISTORY_S = 300;

function eventsList(events, store) {
  if (!events.length) return [h("li", { class: "muted", text: "No events for this stream." })];
  return events.map((ev) => eventItem(ev, store));
}

function eventItem(ev, store) {
  const open = ev.end_wall === null || ev.end_wall === undefined;
  const when = fmtTime(ev.start_wall);
  const frames = ev.frames?.length ? ` from ${ev.frames.length} scored frames` : "";
  const evidence = ev.evidence === null || ev.evidence === undefined ? "" : `, evidence ${ev.evidence.toFixed(1)}${frames}`;
  const text = `Face #${ev.track}: alert from ${when}${evidence}, peak fake probability ${fmtPercent(ev.peak)}`;
  const end = open ? " — still active" : ` — ended ${fmtTime(ev.end_wall)} (${ev.end_reason || "evidence"})`;
  return h("li", { class: open ? "event active" : "event" }, text + end);
}

async function loadHistory(id, stream, store) {
  const isFile = stream?.kind === "upload";
  const since = !isFile && stream?.t ? Math.max(0, stream.t - LIVE_HISTORY_S) : undefined;
  try {
    store.seedHistory(id, await getTimeline(id, { since, limit: isFile ? 20000 : 5000 }));
  } catch (err) {
    console.warn("timeline unavailable:", err.message);
  }
}

function header(id, store) {
  const parts = {
    title: h("h1", { tabindex: "-1" }),
    meta: h("p", { class: "meta" }),
    progress: h("progress", { max: 1, value: 0, hidden: true, "aria-label": "analysis progress" }),
    error: h("p", { class: "error", role: "alert" }),
  };
  const stop = h("button", { type: "button", class: "secondary", text: "Remove stream" });
  stop.addEventListener("click", () => removeAndLeave(id, parts.error));
  // A plain link: the browser saves the page itself, so a long report never passes through JS memory.
  const report = h("a", {
    class: "button secondary",
    href: reportUrl(id),
    download: `deepfake-report-${id}.html`,
    text: "Download report",
  });
  const actions = h("div", { class: "actions" }, report, stop);
  parts.el = h("div", { class: "view-head" }, h("div", {}, parts.title, parts.meta, parts.progress), actions);
  return parts;
}

async function removeAndLeave(id, errorEl) {
  sessions.get(id)?.stop();
  try {
    await removeStream(id);
    window.location.hash = "#/";
  } catch (err) {
    setText(errorEl, `Could not remove the stream: ${err.message}`);
  }
}

function updateHeader(head, stream) {
  setText(head.title, stream ? stream.name : "Stream not found");
  if (!stream) return setText(head.meta, "This stream is not running on the server (it may have been removed).");
  const rate = `${(stream.fps ?? 0).toFixed(1)} fps analyzed, ${stream.dropped ?? 0} dropped`;
  const status = statusText(stream.status) + (stream.error ? ` (${stream.error})` : "");
  setText(head.meta, `${kindText(stream.kind)} · ${status} · ${rate}`);
  const showProgress = stream.kind === "upload" && stream.progress !== null && stream.progress !== undefined;
  head.progress.hidden = !showProgress;
  if (showProgress) head.progress.value = stream.progress;
}

/** Whether a new snapshot may exist: the stream runs and has had a frame analyzed. */
const hasPicture = (stream) => Boolean(stream && stream.status !== "stopped" && (stream.analyzed || stream.t !== null));

/** Mount the view of stream `id`; returns the unmount function. */
export function mount(root, { store }, id) {
  const head = header(id, store);
  const banner = verdictBanner();
  const pic = picture(id, sessions.get(id)?.media);
  const chart = faceChart("evidence of each face over time; the dashed line is the alert bound");
  const faces = faceList();
  const events = h("ul", { class: "events" });
  root.append(
    head.el,
    banner.el,
    h("div", { class: "live-grid" }, pic.el, h("section", {}, h("h2", { text: "Faces" }), faces.el)),
    h("section", {}, h("h2", { text: "Evidence per face (dashed: alert bound)" }), chart.el),
    h("section", {}, h("h2", { text: "Events" }), events),
  );
  const refreshEvents = () =>
    listEvents({ stream: id })
      .then((rows) => replace(events, ...eventsList(rows, store)))
      .catch((err) => replace(events, h("li", { class: "error", text: `Events unavailable: ${err.message}` })));

  const render = () => {
    const stream = store.streams.get(id);
    updateHeader(head, stream);
    banner.update(stream, store);
    const current = store.facesOf(id);
    pic.draw(stream, current, store.model);
    faces.update(current, store.model, stream);
    chart.draw(store.history.get(id), store.model, stream?.kind === "upload" ? "t" : "wall");
  };
  let lastStatus = store.streams.get(id)?.status;
  const onChange = (detail) => {
    if (detail.what === "event") refreshEvents();
    const status = store.streams.get(id)?.status;
    // A file that finished: fetch its whole stored timeline for the result chart.
    if (status === "stopped" && lastStatus !== "stopped") loadHistory(id, store.streams.get(id), store);
    lastStatus = status;
    render();
  };
  const relevant = (d) => !d.stream || d.stream === id;
  loadHistory(id, store.streams.get(id), store);
  refreshEvents();
  pic.refreshSnapshot();
  render();
  const stops = [
    onStoreChange(store, onChange, relevant),
    every(SNAPSHOT_REFRESH_MS, () => hasPicture(store.streams.get(id)) && pic.refreshSnapshot()),
    every(1000, render), // faces go stale without messages; the chart's time axis moves on
  ];
  const onResize = () => render();
  window.addEventListener("resize", onResize);
  window.addEventListener("themechange", onResize);
  return () => {
    stops.forEach((stop) => stop());
    window.removeEventListener("resize", onResize);
    window.removeEventListener("themechange", onResize);
  };
}
