// The /ws connection: parses versioned messages and reconnects by itself with exponential backoff.

const PROTOCOL_VERSION = 2;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

/**
 * Keep one WebSocket open to `/ws`. Calls `onMessage(msg)` for every message of a version we speak,
 * and `onState(state, retryInMs)` with "connecting", "open" or "lost".
 */
export class LiveSocket {
  constructor({ onMessage, onState, path = "/ws" }) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.url = new URL(path, window.location.href);
    this.url.protocol = this.url.protocol === "https:" ? "wss:" : "ws:";
    this.delay = FIRST_DELAY_MS;
    this.timer = null;
    this.ws = null;
  }

  start() {
    this.onState("connecting", 0);
    this.ws = new WebSocket(this.url);
    this.ws.addEventListener("open", () => this.opened());
    this.ws.addEventListener("message", (e) => this.received(e.data));
    this.ws.addEventListener("close", () => this.closed());
  }

  /** Try again now (the "reconnect" button) instead of waiting out the backoff. */
  retryNow() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    clearTimeout(this.timer);
    this.start();
  }

  opened() {
    this.delay = FIRST_DELAY_MS;
    this.onState("open", 0);
  }

  received(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn("ignoring a /ws message that is not JSON");
      return;
    }
    if (msg.v !== PROTOCOL_VERSION) {
      console.warn(`ignoring /ws message of protocol version ${msg.v}`);
      return;
    }
    this.onMessage(msg);
  }

  closed() {
    // Jitter keeps many dashboards from reconnecting in lockstep after a server restart.
    const wait = Math.round(this.delay * (0.75 + Math.random() * 0.5));
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.onState("lost", wait);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), wait);
  }
}
