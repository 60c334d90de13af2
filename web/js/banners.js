// Page-wide banners a person must see at a glance: untrained model, lost connection, degraded cluster.

import { h, replace, setText } from "./dom.js";

function untrainedBanner(store) {
  return h(
    "div",
    { class: "banner banner-warn", id: "banner-untrained" },
    h("strong", { text: "Model untrained — scores are not verdicts." }),
    h("span", {
      class: "banner-more",
      text: ` The server runs ${store.model.name || "a model"} without trained weights; its numbers are placeholders.`,
    }),
  );
}

function lostBanner(socket, retryMs) {
  const seconds = Math.max(1, Math.round(retryMs / 1000));
  return h(
    "div",
    { class: "banner banner-error", id: "banner-lost" },
    h("strong", { text: "Connection lost." }),
    ` Reconnecting in ${seconds} s… `,
    h("button", { type: "button", class: "link-button", onclick: () => socket.retryNow(), text: "Reconnect now" }),
  );
}

function clusterBanner(cluster) {
  return h(
    "div",
    { class: "banner banner-error", id: "banner-cluster" },
    h("strong", { text: "Cluster degraded." }),
    ` ${cluster.error || "Redis cannot be reached"}: cameras keep running on their workers, results arrive when it is back.`,
  );
}

const CONN_TEXT = { connecting: "connecting…", open: "live", lost: "offline" };

/** Keep the banner area and the header's connection badge in step with the store. */
export function initBanners(store, socket, area, badge) {
  let retryMs = 0;
  const render = () => {
    const banners = [];
    if (store.modelKnown && !store.model.trained) banners.push(untrainedBanner(store));
    if (store.connection === "lost") banners.push(lostBanner(socket, retryMs));
    if (store.cluster?.state === "degraded") banners.push(clusterBanner(store.cluster));
    replace(area, ...banners);
    badge.dataset.state = store.connection;
    setText(badge, CONN_TEXT[store.connection] || store.connection);
  };
  store.addEventListener("change", (e) => {
    if (["model", "connection", "cluster"].includes(e.detail.what)) render();
  });
  return {
    setRetry(ms) {
      retryMs = ms;
    },
    render,
  };
}
