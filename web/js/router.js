// A small hash router: #/ overview, #/stream/<id>, #/monitor, #/add, #/events.

import * as overview from "./views/overview.js";
import * as stream from "./views/stream.js";
import * as monitor from "./views/monitor.js";
import * as add from "./views/add.js";
import * as events from "./views/events.js";

const ROUTES = [
  { pattern: /^#?\/?$/, view: overview, nav: "#/" },
  { pattern: /^#\/stream\/([\w.-]+)$/, view: stream, nav: "#/" },
  { pattern: /^#\/monitor$/, view: monitor, nav: "#/monitor" },
  { pattern: /^#\/add$/, view: add, nav: "#/add" },
  { pattern: /^#\/events$/, view: events, nav: "#/events" },
];

function match(hash) {
  for (const route of ROUTES) {
    const found = route.pattern.exec(hash);
    if (found) return { route, params: found.slice(1).map(decodeURIComponent) };
  }
  return { route: ROUTES[0], params: [] };
}

function markNav(nav) {
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** Mount the view for the current hash into `root`, unmounting the previous one. */
export function startRouter(root, app) {
  let unmount = null;
  let first = true;
  const show = () => {
    unmount?.();
    root.replaceChildren();
    const { route, params } = match(window.location.hash);
    markNav(route.nav);
    unmount = route.view.mount(root, app, ...params) || null;
    // Move focus to the new view's heading so keyboard and screen-reader users land on it.
    if (!first) root.querySelector("h1")?.focus();
    first = false;
  };
  window.addEventListener("hashchange", show);
  show();
}
