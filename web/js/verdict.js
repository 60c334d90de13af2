// How a score reads to a person: real / uncertain / fake against the model threshold, or why there is none.

export const DEFAULT_MARGIN = 0.1; // scoring.uncertain_margin's default on the server

/** Verdict class of a rolling fake probability: "real", "uncertain", "fake", or "none" without a value. */
export function classify(value, model) {
  if (value === null || value === undefined) return "none";
  const threshold = model.threshold ?? 0.5;
  const margin = model.uncertain_margin ?? DEFAULT_MARGIN;
  if (value >= threshold + margin) return "fake";
  if (value <= threshold - margin) return "real";
  return "uncertain";
}

const REASONS = {
  too_small: "face too small",
  too_blurred: "face too blurred",
  turned_away: "face turned away",
};

/** Human text for why a face is not judged (the server's quality.reason). */
export function abstainReason(face) {
  const reason = face.quality && face.quality.reason;
  if (!reason) return "face too small or blurred";
  return REASONS[reason] || reason.replaceAll("_", " ");
}

/** One face's label and class, e.g. {cls: "fake", text: "fake 91 %"}. */
export function faceVerdict(face, model) {
  if (face.state === "abstain") return { cls: "abstain", text: `not judged: ${abstainReason(face)}` };
  if (face.rolling === null || face.rolling === undefined) return { cls: "none", text: "analyzing…" };
  const cls = classify(face.rolling, model);
  return { cls, text: `${cls} ${Math.round(face.rolling * 100)} %` };
}

const STATUS_TEXT = {
  connecting: "connecting…",
  live: "live",
  stalled: "stalled: no frames",
  reconnecting: "reconnecting…",
  stopped: "stopped",
};

export const statusText = (status) => STATUS_TEXT[status] || status;

const KIND_TEXT = { webrtc: "browser call (WebRTC)", rtsp: "camera (RTSP)", upload: "uploaded file" };
export const kindText = (kind) => KIND_TEXT[kind] || kind;

/**
 * The one-line verdict for a whole stream, for banners and cards:
 * {cls, title, detail}. `faces` are the stream's current faces; `connection` the /ws state.
 */
export function streamVerdict(stream, faces, model, connection) {
  if (connection === "lost") return { cls: "lost", title: "Connection lost", detail: "reconnecting to the server…" };
  if (!stream) return { cls: "none", title: "Waiting for the server", detail: "" };
  const blocked = blockedByStatus(stream);
  if (blocked) return blocked;
  if (!faces.length) return { cls: "noface", title: "No face in view", detail: "scores appear when a face is seen" };
  const judged = faces.filter((f) => f.state !== "abstain" && f.rolling !== null && f.rolling !== undefined);
  if (!judged.length) return abstainVerdict(faces);
  return scoredVerdict(judged, model);
}

function blockedByStatus(stream) {
  if (stream.status === "reconnecting")
    return { cls: "reconnecting", title: "Camera reconnecting", detail: stream.error || "" };
  if (stream.status === "stalled") return { cls: "reconnecting", title: "Stream stalled", detail: "no frames arriving" };
  if (stream.status === "connecting") return { cls: "none", title: "Connecting…", detail: "" };
  if (stream.status === "stopped") return { cls: "none", title: "Stopped", detail: stream.error || "" };
  return null;
}

function abstainVerdict(faces) {
  if (faces.every((f) => f.state === "abstain"))
    return { cls: "abstain", title: "Can't judge", detail: abstainReason(faces[0]) };
  return { cls: "none", title: "Analyzing…", detail: "collecting frames for a rolling score" };
}

function scoredVerdict(judged, model) {
  const top = Math.max(...judged.map((f) => f.rolling));
  const cls = classify(top, model);
  const title = { fake: "Likely deepfake", uncertain: "Uncertain", real: "Looks real" }[cls];
  const who = judged.length > 1 ? ` (highest of ${judged.length} faces)` : "";
  return { cls, title, detail: `fake probability ${Math.round(top * 100)} %${who}`, top };
}

/**
 * The verdict of a finished file from its whole timeline (`history`: Map track → points):
 * the highest rolling probability any face reached.
 */
export function resultVerdict(history, model) {
  let top = null;
  let topTrack = null;
  for (const [track, points] of history || []) {
    for (const p of points) {
      if (p.state === "abstain" || p.rolling === null || p.rolling === undefined) continue;
      if (top === null || p.rolling > top) [top, topTrack] = [p.rolling, track];
    }
  }
  if (top === null) return { cls: "noface", title: "Finished: no face could be judged", detail: "" };
  const cls = classify(top, model);
  const title = { fake: "Finished: likely deepfake", uncertain: "Finished: uncertain", real: "Finished: looks real" }[cls];
  return { cls, title, detail: `highest fake probability ${Math.round(top * 100)} % (face #${topTrack})`, top };
}
