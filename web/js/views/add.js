// Add a source: an RTSP camera (the server validates the URL) or a video file upload with progress.

import { addCamera, uploadVideo } from "../api.js";
import { h, setText } from "../dom.js";

function field(id, labelText, input, hint) {
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  if (hintEl) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { for: id, text: labelText }), input, hintEl);
}

function cameraForm() {
  const url = h("input", { id: "camera-url", name: "url", type: "text", required: true, placeholder: "rtsp://host:554/stream", autocomplete: "off" });
  const name = h("input", { id: "camera-name", name: "name", type: "text", maxlength: 100, placeholder: "Front door" });
  const error = h("p", { class: "error", id: "camera-error", role: "alert" });
  const submit = h("button", { type: "submit", text: "Add camera" });
  const form = h(
    "form",
    { class: "panel", id: "camera-form", novalidate: true },
    h("h2", { text: "Add a camera" }),
    field("camera-url", "RTSP URL", url, "rtsp:// or rtsps://, credentials allowed (they are masked in the list)"),
    field("camera-name", "Name (optional)", name),
    error,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setText(error, "");
    url.removeAttribute("aria-invalid");
    submit.disabled = true;
    try {
      const stream = await addCamera(url.value.trim(), name.value.trim() || undefined);
      window.location.hash = `#/stream/${encodeURIComponent(stream.id)}`;
    } catch (err) {
      setText(error, err.message);
      url.setAttribute("aria-invalid", "true");
      url.setAttribute("aria-errormessage", "camera-error");
      url.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function uploadForm() {
  const file = h("input", { id: "upload-file", name: "file", type: "file", accept: "video/*", required: true });
  const progress = h("progress", { id: "upload-progress", max: 1, value: 0, hidden: true, "aria-label": "upload progress" });
  const status = h("p", { class: "hint", role: "status" });
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", text: "Upload and analyze" });
  const form = h(
    "form",
    { class: "panel", id: "upload-form" },
    h("h2", { text: "Analyze a video file" }),
    field("upload-file", "Video file", file, "mp4, mov, mkv, webm, avi…"),
    progress,
    status,
    error,
    submit,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!file.files.length) return setText(error, "Choose a video file first.");
    upload(file.files[0], { progress, status, error, submit });
  });
  return form;
}

async function upload(chosen, ui) {
  setText(ui.error, "");
  ui.submit.disabled = true;
  ui.progress.hidden = false;
  ui.progress.value = 0;
  const onProgress = (fraction) => {
    ui.progress.value = fraction;
    setText(ui.status, fraction < 1 ? `Uploading… ${Math.round(fraction * 100)} %` : "Checking the video…");
  };
  try {
    const stream = await uploadVideo(chosen, undefined, onProgress);
    setText(ui.status, "Uploaded; analysis started.");
    window.location.hash = `#/stream/${encodeURIComponent(stream.id)}`;
  } catch (err) {
    setText(ui.status, "");
    setText(ui.error, err.message);
    ui.progress.hidden = true;
  } finally {
    ui.submit.disabled = false;
  }
}

/** Mount the "add" view. */
export function mount(root) {
  root.append(
    h("h1", { tabindex: "-1", text: "Add a camera or file" }),
    h("div", { class: "panels" }, cameraForm(), uploadForm()),
  );
  return null;
}
