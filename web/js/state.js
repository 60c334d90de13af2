// Client-side state fed by /ws messages: model, streams, each stream's live faces and recent history.
// Views read it and listen for "change" events ({detail: {what, stream}}) to redraw what they show.

const HISTORY_S = 300; // keep five minutes of scores per face for the charts
const FACE_STALE_S = 4; // a face with no score for this long is treated as gone (missed track_end)
const MAX_LIVE_EVENTS = 200;

export class Store extends EventTarget {
  constructor() {
    super();
    this.model = { name: "", trained: true, threshold: 0.5, bound: 1 };
    this.modelKnown = false;
    this.alertsEnabled = null; // the server raises no alerts for an untrained model
    this.connection = "connecting";
    this.streams = new Map(); // id → summary as GET /api/streams gives it
    this.faces = new Map(); // id → Map(track → latest score message, plus `seen` in ms)
    this.history = new Map(); // id → Map(track → [{wall, t, rolling, prob, evidence, judgement, state}])
    this.liveEvents = [];
    this.cluster = null;
  }

  emit(what, stream = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what, stream } }));
  }

  setModel(model, alertsEnabled) {
    if (!model) return;
    if (typeof alertsEnabled === "boolean") this.alertsEnabled = alertsEnabled;
    this.model = { ...this.model, ...model };
    this.modelKnown = true;
    this.emit("model");
  }

  /** The cluster part of /api/health on a gateway (null on a single-process server). */
  setCluster(cluster) {
    const before = this.cluster?.state ?? null;
    this.cluster = cluster ?? null;
    if ((this.cluster?.state ?? null) !== before) this.emit("cluster");
  }

  setConnection(state) {
    this.connection = state;
    this.emit("connection");
  }

  /** Dispatch one /ws message. */
  apply(msg) {
    const handler = HANDLERS[msg.type];
    if (handler) handler(this, msg);
  }

  applyHello(msg) {
    this.setModel({ ...msg.model, trained: msg.model_trained ?? msg.model?.trained }, msg.alerts);
    const seen = new Set();
    for (const summary of msg.streams || []) {
      seen.add(summary.id);
      this.putStream(summary);
      for (const face of summary.faces || []) this.putFace({ ...face, wall: Date.now() / 1000 });
    }
    for (const id of [...this.streams.keys()]) if (!seen.has(id)) this.dropStream(id);
    this.emit("streams");
  }

  applyStatus(msg) {
    const summary = msg.stream;
    if (summary.removed) this.dropStream(summary.id);
    else this.putStream(summary);
    this.emit("streams", summary.id);
  }

  /** Fresh counters (fps, drops, progress) from GET /api/streams; /ws sends status only on changes. */
  mergeSummaries(list) {
    for (const summary of list) if (this.streams.has(summary.id)) this.putStream(summary);
    this.emit("streams");
  }

  putStream(summary) {
    const old = this.streams.get(summary.id) || {};
    // Faces come from /ws scores, which are newer; from a summary only their alert flags are kept.
    const { faces, ...rest } = summary;
    if (faces) rest.alertTracks = new Set(faces.filter((f) => f.alert).map((f) => f.track));
    else if (!old.alertTracks) rest.alertTracks = new Set();
    this.streams.set(summary.id, { ...old, ...rest });
    if (summary.status === "stopped") this.faces.delete(summary.id);
  }

  dropStream(id) {
    this.streams.delete(id);
    this.faces.delete(id);
  }

  applyScore(msg) {
    this.putFace(msg);
    this.emit("score", msg.stream);
  }

  putFace(face) {
    const faces = mapIn(this.faces, face.stream);
    faces.set(face.track, { ...face, seen: performance.now() });
    const wall = face.wall ?? Date.now() / 1000;
    const series = mapIn(this.history, face.stream);
    pushTrimmed(arrayIn(series, face.track), { ...pointOf(face), wall });
  }

  applyTrackEnd(msg) {
    this.faces.get(msg.stream)?.delete(msg.track);
    this.emit("score", msg.stream);
  }

  applyEvent(msg) {
    const alerts = this.streams.get(msg.event.stream)?.alertTracks;
    if (alerts && msg.event.phase === "start") alerts.add(msg.event.track);
    else if (alerts) alerts.delete(msg.event.track);
    this.liveEvents.unshift(msg.event);
    this.liveEvents.length = Math.min(this.liveEvents.length, MAX_LIVE_EVENTS);
    this.emit("event", msg.event.stream);
  }

  /** The stream's faces that are still in view, ordered by track id. */
  facesOf(id) {
    const now = performance.now();
    const faces = [...(this.faces.get(id)?.values() || [])];
    return faces.filter((f) => now - f.seen < FACE_STALE_S * 1000).sort((a, b) => a.track - b.track);
  }

  /** Rolling fake probability of the stream's most severe face (the number shown second), or null. */
  highest(id) {
    const faces = this.facesOf(id).filter((f) => f.rolling !== null && f.rolling !== undefined);
    if (!faces.length) return null;
    const rank = (f) => STATE_ORDER.indexOf(f.judgement) * 1e6 + (f.evidence ?? 0);
    return faces.reduce((a, b) => (rank(b) > rank(a) ? b : a)).rolling;
  }

  /**
   * The stream's highest evidence over time as a share of the alert bound, for sparklines: [{x, y}]
   * with x the `key` time ("wall" for live streams, "t" for files) in buckets of `bucketS` seconds;
   * y null where no face was judged yet.
   */
  topSeries(id, key = "wall", bucketS = 0.5) {
    const bound = this.model.bound || 1;
    const buckets = new Map();
    for (const points of this.history.get(id)?.values() || []) {
      for (const p of points) {
        const x = Math.round(p[key] / bucketS) * bucketS;
        const judged = p.judgement && p.judgement !== "gathering_evidence";
        const y = judged ? Math.min(2, (p.evidence ?? 0) / bound) : null;
        const old = buckets.get(x);
        if (old === undefined || (y !== null && (old === null || y > old))) buckets.set(x, y);
      }
    }
    return [...buckets].sort((a, b) => a[0] - b[0]).map(([x, y]) => ({ x, y }));
  }

  /** Whether any face of the stream is in an alert right now. */
  alerting(id) {
    return (this.streams.get(id)?.alertTracks?.size ?? 0) > 0;
  }

  /** Seed a face's chart history from the stored timeline (when opening a stream view). */
  seedHistory(id, points) {
    const series = mapIn(this.history, id);
    const byTrack = new Map();
    for (const p of points) arrayIn(byTrack, p.track).push(p);
    for (const [track, list] of byTrack) {
      const live = series.get(track) || [];
      const firstLive = live.length ? live[0].wall : Infinity;
      const older = list.filter((p) => p.wall < firstLive);
      series.set(track, [...older.map(pointOf), ...live]);
    }
    this.emit("history", id);
  }
}

const HANDLERS = {
  hello: (s, m) => s.applyHello(m),
  status: (s, m) => s.applyStatus(m),
  score: (s, m) => s.applyScore(m),
  track_end: (s, m) => s.applyTrackEnd(m),
  event: (s, m) => s.applyEvent(m),
};

const STATE_ORDER = ["gathering_evidence", "looks_real", "uncertain", "likely_fake", "alert"];

const pointOf = (p) => ({
  wall: p.wall,
  t: p.t,
  rolling: p.rolling,
  prob: p.prob,
  evidence: p.evidence ?? 0,
  judgement: p.judgement ?? "gathering_evidence",
  state: p.state,
});

function mapIn(map, key) {
  if (!map.has(key)) map.set(key, new Map());
  return map.get(key);
}

function arrayIn(map, key) {
  if (!map.has(key)) map.set(key, []);
  return map.get(key);
}

function pushTrimmed(list, point) {
  list.push(point);
  const cutoff = point.wall - HISTORY_S;
  let drop = 0;
  while (drop < list.length && list[drop].wall < cutoff) drop += 1;
  if (drop) list.splice(0, drop);
}
