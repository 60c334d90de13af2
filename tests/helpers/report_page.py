"""Open an evidence report in a real browser with the network off, and check that all of it rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RenderedReport:
    requests: list[str]  # every URL the page asked for besides itself
    images: list[dict[str, Any]]  # per <img>: loaded, natural width, scheme of its src
    chart_sizes: list[dict[str, float]]  # rendered size of each chart
    polylines: int  # charts with a drawn score line
    alert_rows: int
    body_max_width: str  # proves the inline stylesheet applied
    text: str


def open_offline(browser: Any, page_file: Path, screenshot: Path | None = None) -> RenderedReport:
    """Load `page_file` (file://) in a fresh offline context, recording every request it makes."""
    context = browser.new_context(offline=True, viewport={"width": 1000, "height": 800})
    try:
        page = context.new_page()
        url = page_file.resolve().as_uri()
        requests: list[str] = []
        page.on("request", lambda request: request.url != url and requests.append(request.url))
        page.goto(url, wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({loaded: e.complete, width: e.naturalWidth, scheme: e.src.split(':')[0]}))"
        )
        charts = page.eval_on_selector_all(
            "svg.chart",
            "els => els.map(e => ({w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height}))",
        )
        polylines = page.eval_on_selector_all(
            "svg.chart polyline", "els => els.filter(e => e.getAttribute('points').trim().length > 0).length"
        )
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        return RenderedReport(
            requests=requests,
            images=images,
            chart_sizes=charts,
            polylines=polylines,
            alert_rows=page.locator("table#alerts tr").count() - 1,
            body_max_width=page.evaluate("getComputedStyle(document.body).maxWidth"),
            text=page.inner_text("body"),
        )
    finally:
        context.close()
