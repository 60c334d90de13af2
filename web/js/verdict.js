// How a score reads to a person: real / uncertain / fake against the model threshold, or why there is none.

export const DEFAULT_MARGIN = 0.1; // scoring.uncertain_margin's default on the server

// The alert rule's states (the server's `judgement`), from least to most severe: words first, numbers second.
export const STATES = ["gathering_evidence", "looks_real", "uncertain", "likely_fake", "alert"];
const STATE_WORDS = {
  gathering_evidence: "Gathering evidence",
  looks_real: "Looks real",
  uncertain: "Uncertain",
  likely_fake: "Likely fake",
  alert: "Alert",
};
// The colour class of each state (CSS uses real / uncertain / fake / alert / none).
const STATE_CLASS = {
  gathering_evidence: "none",
  looks_real: "real",
  uncertain: "uncertain",
  likely_fake: "fake",
  alert: "alert",
};

export const severity = (judgement) => STATES.indexOf(judgement);
export const stateWord = (judgement) => STATE_WORDS[judgement] || "Gathering evidence";
export const stateClass = (judgement) => STATE_CLASS[judgement] || "none";

/** A face's evidence as a share of the alert bound (0 … 2: evidence is capped at twice the bound). */
export function evidenceShare(face, model) {
  const bound = model.bound || 1;
  return Math.max(0, Math.min(2, (face.evidence ?? 0) / bound));
}

/** Verdict class of a calibrated probability against the threshold (for numbers without a state). */
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

/** One face's label and class, e.g. {cls: "fake", word: "Likely fake", text: "Likely fake · 71 %"}. */
export function faceVerdict(face, model) {
  const judgement = face.judgement || "gathering_evidence";
  // A face never scored yet (every frame abstained) says why; once scored, its state carries over
  // abstained frames (they add no evidence), so the word does not flicker.
  if (face.state === "abstain" && judgement === "gathering_evidence")
    return { cls: "abstain", word: "Not judged", text: `not judged: ${abstainReason(face)}` };
  const word = stateWord(judgement);
  const value = face.rolling ?? face.prob;
  const number = value === null || value === undefined ? "" : ` · ${Math.round(value * 100)} %`;
  return { cls: stateClass(judgement), word, text: `${word}${number}` };
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
 * {cls, title, detail, top}. `faces` are the stream's current faces; `connection` the /ws state.
 */
export function streamVerdict(stream, faces, model, connection) {
  if (connection === "lost") return { cls: "lost", title: "Connection lost", detail: "reconnecting to the server…" };
  if (!stream) return { cls: "none", title: "Waiting for the server", detail: "" };
  const blocked = blockedByStatus(stream);
  if (blocked) return blocked;
  if (!faces.length) return { cls: "noface", title: "No face in view", detail: "scores appear when a face is seen" };
  const judged = faces.filter((f) => !(f.state === "abstain" && (f.judgement || "gathering_evidence") === "gathering_evidence"));
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
  return { cls: "none", title: "Gathering evidence", detail: "collecting frames before judging" };
}

/** The face that matters most: the most severe state, then the most evidence. */
export function worstFace(faces) {
  return faces.reduce((a, b) => {
    const d = severity(b.judgement) - severity(a.judgement);
    return d > 0 || (d === 0 && (b.evidence ?? 0) > (a.evidence ?? 0)) ? b : a;
  });
}

const STREAM_TITLES = { alert: "Alert: likely deepfake" };

function scoredVerdict(judged, model) {
  const face = worstFace(judged);
  const judgement = face.judgement || "gathering_evidence";
  const title = STREAM_TITLES[judgement] || stateWord(judgement);
  const value = face.rolling ?? face.prob ?? null;
  const who = judged.length > 1 ? ` (face #${face.track} of ${judged.length})` : "";
  const evidence = `evidence ${Math.round(evidenceShare(face, model) * 100)} % of the alert bound`;
  const number = value === null ? "" : ` · fake probability ${Math.round(value * 100)} %`;
  return { cls: stateClass(judgement), title, detail: `${evidence}${number}${who}`, top: value, face };
}

/**
 * The verdict of a finished file from its whole timeline (`history`: Map track → points): the most
 * severe state any face reached, with that face's highest probability.
 */
export function resultVerdict(history, model) {
  let worst = null;
  for (const [track, points] of history || []) {
    for (const p of points) {
      if (p.state === "abstain" && (p.judgement || "gathering_evidence") === "gathering_evidence") continue;
      const better =
        worst === null ||
        severity(p.judgement) > severity(worst.judgement) ||
        (severity(p.judgement) === severity(worst.judgement) && (p.evidence ?? 0) > (worst.evidence ?? 0));
      if (better) worst = { ...p, track };
    }
  }
  if (worst === null) return { cls: "noface", title: "Finished: no face could be judged", detail: "" };
  const judgement = worst.judgement || "gathering_evidence";
  const title = judgement === "alert" ? "Finished: alert raised" : `Finished: ${stateWord(judgement).toLowerCase()}`;
  const peak = Math.round(evidenceShare(worst, model) * 100);
  const value = worst.rolling ?? worst.prob ?? null;
  const number = value === null ? "" : ` · fake probability ${Math.round(value * 100)} %`;
  return { cls: stateClass(judgement), title, detail: `evidence ${peak} % of the alert bound${number} (face #${worst.track})`, top: value };
}
