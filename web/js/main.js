// Dashboard entry point: state, the live socket, banners, theme and the router.

import { getHealth, listStreams } from "./api.js";
import { initBanners } from "./banners.js";
import { startRouter } from "./router.js";
import { LiveSocket } from "./socket.js";
import { Store } from "./state.js";
import { initTheme } from "./theme.js";

const store = new Store();
let banners = null;
const socket = new LiveSocket({
  onMessage: (msg) => store.apply(msg),
  onState: (state, retryMs) => {
    banners?.setRetry(retryMs);
    store.setConnection(state);
  },
});

banners = initBanners(store, socket, document.getElementById("banners"), document.getElementById("conn"));
initTheme(document.getElementById("theme-toggle"));
store.addEventListener("change", (e) => {
  if (e.detail.what === "model") document.getElementById("model-name").textContent = modelLine(store.model);
});

function modelLine(model) {
  const trained = model.trained ? "trained" : "untrained";
  const calibrated = model.calibration && model.calibration !== "identity" ? "calibrated" : "uncalibrated";
  return `Model: ${model.name || "unknown"} (${trained}, ${calibrated}, alert bound ${model.bound ?? "?"})`;
}

// /ws hello brings the model too; health answers even when WebSockets are blocked by a proxy.
getHealth()
  .then((h) => {
    store.setModel({ ...h.model, trained: h.model_trained ?? h.model?.trained }, h.alerts);
    if (h.cluster) watchCluster();
  })
  .catch((err) => console.warn("health check failed:", err.message));

// A cluster gateway says in its health whether Redis answers; only it has a `cluster` part.
const CLUSTER_REFRESH_MS = 5000;
function watchCluster() {
  const poll = () =>
    getHealth()
      .then((h) => store.setCluster(h.cluster))
      .catch(() => {});
  poll();
  setInterval(poll, CLUSTER_REFRESH_MS);
}
socket.start();

// The server announces a stream's status when it changes; its rates move all the time, so poll them.
const COUNTERS_REFRESH_MS = 3000;
setInterval(() => {
  if (store.connection !== "open" || document.hidden) return;
  listStreams()
    .then((list) => store.mergeSummaries(list))
    .catch(() => {}); // the socket's state already tells the person about an unreachable server
}, COUNTERS_REFRESH_MS);
startRouter(document.getElementById("main"), { store, socket });
window.dfm = { store }; // for debugging from the console and for the browser tests
