// Events history: every alert the server has recorded (GET /api/events), newest first.

import { listEvents } from "../api.js";
import { h, replace, fmtPercent, fmtTime, fmtDuration } from "../dom.js";
import { onStoreChange } from "./common.js";

const COLUMNS = ["Started", "Stream", "Face", "Evidence", "Peak probability", "Duration", "Ended"];

function row(ev, store) {
  const stream = store.streams.get(ev.stream);
  const open = ev.end_wall === null || ev.end_wall === undefined;
  const name = stream
    ? h("a", { href: `#/stream/${encodeURIComponent(ev.stream)}`, text: stream.name })
    : h("span", { text: ev.stream });
  const duration = open ? "–" : fmtDuration(ev.end_wall - ev.start_wall);
  const ended = open ? h("span", { class: "badge badge-alert", text: "active" }) : ev.end_reason || "evidence";
  return h(
    "tr",
    { class: open ? "active" : "" },
    h("td", { text: fmtTime(ev.start_wall) }),
    h("td", {}, name),
    h("td", { text: `#${ev.track}` }),
    h("td", { text: evidenceText(ev) }),
    h("td", { text: fmtPercent(ev.peak) }),
    h("td", { text: duration }),
    h("td", {}, ended),
  );
}

function evidenceText(ev) {
  if (ev.evidence === null || ev.evidence === undefined) return "–";
  const frames = ev.frames?.length ? ` (${ev.frames.length} frames)` : "";
  return `${ev.evidence.toFixed(1)} of ${ev.bound?.toFixed(1) ?? "?"}${frames}`;
}

function table(events, store) {
  if (!events.length) return h("p", { class: "empty", text: "No events yet: no face's evidence has reached the alert bound." });
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "events-table" },
      h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, ...events.map((ev) => row(ev, store))),
    ),
  );
}

/** Mount the events history; refetches when a live event arrives. */
export function mount(root, { store }) {
  const body = h("div", { "aria-live": "polite", "aria-busy": "true" }, h("p", { text: "Loading…" }));
  const note = h("p", { class: "hint" });
  root.append(h("h1", { tabindex: "-1", text: "Events" }), note, body);
  const load = () =>
    listEvents({ limit: 500 })
      .then((events) => replace(body, table(events, store)))
      .catch((err) => replace(body, h("p", { class: "error", text: `Events unavailable: ${err.message}` })))
      .finally(() => body.setAttribute("aria-busy", "false"));
  const explain = () => {
    note.textContent = store.alertsEnabled === false
      ? "Alerts are off on the server (the model is untrained), so no new events are recorded."
      : "An event is a face whose evidence (fake log-odds added up over its frames) reached the alert bound.";
  };
  explain();
  load();
  return onStoreChange(store, (d) => (d.what === "event" ? load() : explain()), (d) => d.what !== "score");
}
