// REST calls to the server (docs/api.md). Every failure becomes an ApiError carrying the server's
// {"error": message} text, so forms can show exactly what the server said.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorFrom(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return new ApiError(response.status, body.error);
  } catch {
    // not JSON: fall through to the status line
  }
  return new ApiError(response.status, `${response.status} ${response.statusText || "error"}`);
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `server unreachable (${err.message})`);
  }
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

export const getHealth = () => request("GET", "/api/health");
export const listStreams = () => request("GET", "/api/streams").then((b) => b.streams);
export const addCamera = (url, name) => request("POST", "/api/streams", name ? { url, name } : { url });
export const removeStream = (id) => request("DELETE", `/api/streams/${encodeURIComponent(id)}`);
export const postOffer = (offer) => request("POST", "/api/webrtc/offer", offer);

export function getTimeline(id, { since, limit } = {}) {
  const q = new URLSearchParams();
  if (since !== undefined) q.set("since", String(since));
  if (limit !== undefined) q.set("limit", String(limit));
  const suffix = q.toString() ? `?${q}` : "";
  return request("GET", `/api/streams/${encodeURIComponent(id)}/timeline${suffix}`).then((b) => b.points);
}

export function listEvents({ stream, limit = 200 } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (stream) q.set("stream", stream);
  return request("GET", `/api/events?${q}`).then((b) => b.events);
}

/** The stream's evidence report (self-contained HTML), served as a download; the cookie carries the token. */
export const reportUrl = (id) => `/api/streams/${encodeURIComponent(id)}/report?download=1`;
export const snapshotUrl = (id) => `/api/streams/${encodeURIComponent(id)}/snapshot.jpg?ts=${Date.now()}`;
export const faceUrl = (id, track) => `/api/streams/${encodeURIComponent(id)}/faces/${track}.jpg?ts=${Date.now()}`;

/**
 * Upload a video as multipart form data. fetch() cannot report upload progress, XMLHttpRequest can:
 * `onProgress(fraction)` is called as bytes leave the browser. Resolves with the created stream.
 */
export function uploadVideo(file, name, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    form.append("file", file, file.name);
    if (name) form.append("name", name);
    xhr.open("POST", "/api/uploads");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    xhr.addEventListener("load", () => settleUpload(xhr, resolve, reject));
    xhr.addEventListener("error", () => reject(new ApiError(0, "upload failed: server unreachable")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "upload cancelled")));
    xhr.send(form);
  });
}

function settleUpload(xhr, resolve, reject) {
  const body = xhr.response;
  if (xhr.status >= 200 && xhr.status < 300) resolve(body);
  else reject(new ApiError(xhr.status, body && body.error ? body.error : `upload failed (${xhr.status})`));
}
