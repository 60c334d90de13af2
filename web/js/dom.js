// Tiny DOM helpers: build elements without a framework and without innerHTML (no injection from names).

/**
 * Create an element. `props` sets attributes (class, aria-*, data-*…), `on*` functions become listeners,
 * and `text` sets textContent. Children may be nodes, strings or falsy (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Set text only when it changed (keeps screen readers from re-announcing unchanged live regions). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export function fmtPercent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
}

export function fmtTime(unixSeconds) {
  if (!unixSeconds) return "–";
  return new Date(unixSeconds * 1000).toLocaleString();
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}
