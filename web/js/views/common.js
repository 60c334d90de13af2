// Pieces shared by the views: throttled redraws, verdict badges, face thumbnails.

import { faceUrl } from "../api.js";
import { h } from "../dom.js";

/**
 * Call `redraw(detail)` at most once per animation frame while store changes arrive (scores come
 * many times a second; the screen needs them at most at its refresh rate). Returns an unsubscribe.
 */
export function onStoreChange(store, redraw, filter = () => true) {
  let pending = null;
  const listener = (e) => {
    if (!filter(e.detail)) return;
    if (pending !== null) return;
    pending = requestAnimationFrame(() => {
      pending = null;
      redraw(e.detail);
    });
  };
  store.addEventListener("change", listener);
  return () => {
    store.removeEventListener("change", listener);
    if (pending !== null) cancelAnimationFrame(pending);
  };
}

/** Repeat `fn` every `ms` while the view is mounted; returns a stop function. */
export function every(ms, fn) {
  const id = setInterval(fn, ms);
  return () => clearInterval(id);
}

/** Keep one <img> per current face track in `box`, refreshing each from faces/{track}.jpg. */
export function syncThumbnails(box, streamId, faces, refresh) {
  const want = new Set(faces.map((f) => String(f.track)));
  for (const img of [...box.children]) if (!want.has(img.dataset.track)) img.remove();
  for (const face of faces) {
    let img = box.querySelector(`img[data-track="${face.track}"]`);
    if (!img) {
      img = h("img", { class: "thumb", "data-track": String(face.track), alt: `face #${face.track}`, width: 48, height: 48 });
      img.addEventListener("error", () => img.classList.add("missing"));
      img.addEventListener("load", () => img.classList.remove("missing"));
      box.append(img);
      refresh = true;
    }
    if (refresh) img.src = faceUrl(streamId, face.track);
  }
}

/** A stream's analysis-frame size in pixels when the server reports it (boxes are in these pixels). */
export function frameSizeOf(stream) {
  if (stream?.width && stream?.height) return { w: stream.width, h: stream.height };
  return null;
}
