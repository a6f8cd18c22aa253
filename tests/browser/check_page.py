#!/usr/bin/env python3
"""Looks at a guardform report page as a person would, in a real browser.

    .venv/bin/python tests/browser/check_page.py REPORT.html SCREENSHOT.png

Loads the page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
records every request the page makes besides loading itself, takes a screenshot, and prints
one JSON object on stdout:

    {"requests": [...], "screenshot": {"width", "height", "colours", "dark_share"},
     "metrics": [{"path": "...", "text": "..."}, ...], "title": "...", "errors": [...]}

The Rust test (tests/report.rs) decides what is right. Exit 1 with a message on stderr when
the browser cannot be started (never a silent skip).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import png  # pypng
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("GUARDFORM_CHROMIUM", "/usr/bin/chromium")
# Flags this machine's closed network needs (background services would try to reach hosts).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot_facts(path: Path) -> dict:
    width, height, rows, _info = png.Reader(filename=str(path)).asRGBA8()
    colours: set[tuple[int, int, int]] = set()
    dark = total = 0
    for y, row in enumerate(rows):
        if y % 4:
            continue
        for x in range(0, width * 4, 16):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add((r >> 3, g >> 3, b >> 3))
            total += 1
            dark += (r + g + b) < 200
    return {"width": width, "height": height, "colours": len(colours),
            "dark_share": round(dark / max(total, 1), 4)}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    page_path = Path(sys.argv[1]).resolve()
    shot = Path(sys.argv[2]).resolve()
    if not Path(CHROMIUM).exists():
        print(f"check_page: no browser at {CHROMIUM}; scripts/setup-browser installs Debian's chromium",
              file=sys.stderr)
        return 1
    url = page_path.as_uri()
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url) if r.url != url else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url, wait_until="load")
        page.screenshot(path=str(shot), full_page=False)
        metrics = page.eval_on_selector_all(
            "[data-metric]",
            "els => els.map(e => ({path: e.getAttribute('data-metric'), text: e.textContent.trim()}))",
        )
        # The filter really filters: typing an account id leaves one row visible.
        first = page.eval_on_selector("tr[data-account]", "e => e.getAttribute('data-account')")
        page.fill("#filter", first)
        visible = page.eval_on_selector_all(
            "tr[data-account]", "els => els.filter(e => e.offsetParent !== null).length")
        title = page.title()
        browser.close()
    print(json.dumps({
        "requests": requests,
        "errors": errors,
        "screenshot": screenshot_facts(shot),
        "metrics": metrics,
        "title": title,
        "filtered_rows": visible,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
