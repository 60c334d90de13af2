// "Monitor my call": share a tab/window (the Zoom/Meet/Teams tab) or the webcam; scores shown live.

import { h, setText } from "../dom.js";
import { capture, sendToServer, sessions } from "../webrtc.js";
import { every, onStoreChange } from "./common.js";
import { faceList, picture, verdictBanner } from "./live.js";

const SIZE_PROBE_MS = 3000; // how often a snapshot is fetched to learn the frame size the server sees

function intro() {
  return [
    h("h1", { tabindex: "-1", text: "Monitor my call" }),
    h("p", {
      class: "lede",
      text:
        "Share the browser tab or window where your video call runs (Zoom, Meet, Teams…), or your webcam. " +
        "The picture goes only to this server, which scores every face it sees.",
    }),
  ];
}

function controls(start, stop) {
  const name = h("input", { id: "call-name", name: "name", type: "text", value: "My call", maxlength: 100 });
  const shareTab = h("button", { type: "button", id: "share-screen", text: "Share a tab or window" });
  const shareCam = h("button", { type: "button", id: "share-camera", class: "secondary", text: "Use my webcam" });
  const stopBtn = h("button", { type: "button", id: "stop-sharing", class: "danger", hidden: true, text: "Stop monitoring" });
  shareTab.addEventListener("click", () => start("screen", name.value.trim()));
  shareCam.addEventListener("click", () => start("camera", name.value.trim()));
  stopBtn.addEventListener("click", stop);
  const setup = h(
    "div",
    {},
    h("label", { for: "call-name", text: "Name shown on the dashboard" }),
    name,
    h("div", { class: "actions" }, shareTab, shareCam),
  );
  const el = h("div", { class: "monitor-controls" }, setup, h("div", { class: "actions" }, stopBtn));
  return { el, setup, buttons: [shareTab, shareCam, name], stopBtn };
}

/** Mount the call monitor; returns the unmount function (sharing goes on in the background). */
export function mount(root, { store }) {
  const error = h("p", { class: "error", role: "alert" });
  const banner = verdictBanner();
  const liveBox = h("div", { class: "live-grid", hidden: true });
  const faces = faceList();
  const link = h("a", { href: "#/" });
  let session = [...sessions.values()].at(-1) || null;
  let pic = null;
  const ui = controls(
    (kind, name) => start(kind, name),
    () => session?.stop(),
  );
  root.append(...intro(), ui.el, error, banner.el, liveBox, h("p", {}, link));

  const show = () => {
    const active = Boolean(session && !session.stopped);
    ui.buttons.forEach((b) => (b.disabled = active));
    ui.setup.hidden = active; // while sharing, the verdict takes the space the choices had
    ui.stopBtn.hidden = !active;
    liveBox.hidden = !active;
    banner.el.hidden = !active;
    link.hidden = !active;
    if (!active) return;
    link.href = `#/stream/${encodeURIComponent(session.streamId)}`;
    setText(link, "Open the full stream view (chart and events)");
    if (!pic) {
      pic = picture(session.streamId, session.media);
      liveBox.replaceChildren(pic.el, h("section", {}, h("h2", { text: "Faces" }), faces.el));
    }
  };
  const render = () => {
    show();
    if (!session || session.stopped) return;
    const stream = store.streams.get(session.streamId);
    banner.update(stream, store);
    const current = store.facesOf(session.streamId);
    pic.draw(stream, current, store.model);
    faces.update(current, store.model, stream);
  };

  async function start(kind, name) {
    setText(error, "");
    ui.buttons.forEach((b) => (b.disabled = true));
    try {
      const media = await capture(kind);
      session = await sendToServer(media, name || undefined, ended);
      pic = null;
    } catch (err) {
      setText(error, startError(err));
    }
    render();
    // The pressed button is hidden now: keep keyboard focus on the control that undoes it.
    (session && !session.stopped ? ui.stopBtn : ui.buttons[kind === "screen" ? 0 : 1]).focus();
  }

  function ended() {
    const hadFocus = ui.stopBtn === document.activeElement;
    pic = null;
    render();
    if (hadFocus) ui.buttons[0].focus();
  }

  render();
  const stops = [
    onStoreChange(store, render, (d) => !d.stream || d.stream === session?.streamId),
    every(1000, render),
    every(SIZE_PROBE_MS, () => session && !session.stopped && pic?.refreshSnapshot()),
  ];
  return () => stops.forEach((stop) => stop());
}

function startError(err) {
  if (err.name === "NotAllowedError") return "Sharing was refused or cancelled.";
  if (err.name === "NotFoundError") return "No camera was found.";
  return `Could not start monitoring: ${err.message}`;
}
