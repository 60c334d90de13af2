// Light and dark themes: follow prefers-color-scheme until the person picks one with the toggle.

const KEY = "dfm-theme";

function current() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen) return chosen;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function label(button) {
  const next = current() === "dark" ? "light" : "dark";
  button.textContent = next === "dark" ? "Dark theme" : "Light theme";
  button.setAttribute("aria-label", `Switch to ${next} theme`);
}

/** Wire the toggle button; the saved choice was applied by index.html before first paint. */
export function initTheme(button) {
  label(button);
  button.addEventListener("click", () => {
    const next = current() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // storage may be disabled; the choice then lasts for this page only
    }
    label(button);
    window.dispatchEvent(new Event("themechange"));
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => label(button));
}
