"""Screenshots of the chat page's main states from a real run (the README shows them).

    python -m tests.helpers.web_screenshots docs/img

Starts the job API with the page (uvicorn on loopback, the bundled shapes model on the CPU, a fresh
cache folder), drives headless Chromium through a conversation and saves: web_progress.png (the work
followed live), web_approve.png (the layout editor before generation), web_result.png (the video with
the planned boxes, the verdict, the rounds side by side), web_followup.png (an edit on the same thread
and the plain model beside it), web_errors.png (a request with nothing to draw).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

PROMPT = "a red circle moving right and a blue square moving left"


def main(out: str) -> None:
    os.environ["TTOM_CACHE_DIR"] = tempfile.mkdtemp(prefix="ttom-shots-")
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import LiveServer, chromium_path
    from ttom.serve.app import create_app
    from ttom.serve.config import ServeConfig

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(ServeConfig(defaults={"device": "cpu"}, poll_s=0.2, flush_s=0.2))
    with LiveServer(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(server.url)
        page.click("#composer summary")
        page.fill("#opt-steps", "12")
        page.fill("#opt-rounds", "2")
        page.check("#opt-approve")
        page.fill("#prompt", PROMPT)
        page.click("#send")
        card = page.locator("article.msg.bot").nth(0)
        canvas = card.locator(".approval .editor canvas")
        canvas.wait_for(timeout=60_000)
        box = canvas.bounding_box()
        # drag the square down a little at t = 0, as a person would
        page.mouse.move(box["x"] + 0.83 * box["width"], box["y"] + 0.2 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.83 * box["width"], box["y"] + 0.3 * box["height"], steps=5)
        page.mouse.up()
        page.screenshot(path=str(out_dir / "web_approve.png"))
        card.locator(".approval .approve").click()
        card.locator(".log li", has_text="round 1:").wait_for(timeout=60_000)
        page.wait_for_function("document.querySelector('.loss-text').textContent.includes('step')", timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out_dir / "web_progress.png"))
        card.locator(".result video").first.wait_for(timeout=300_000)
        page.wait_for_timeout(1200)
        card.locator(".result").scroll_into_view_if_needed()
        page.screenshot(path=str(out_dir / "web_result.png"))
        page.uncheck("#opt-approve")
        page.fill("#opt-rounds", "1")
        page.fill("#prompt", "make the circle bigger")
        page.click("#send")
        second = page.locator("article.msg.bot").nth(1)
        second.locator(".result video").first.wait_for(timeout=300_000)
        second.locator(".compare-btn").click()
        second.locator(".compare .plain video").wait_for(timeout=300_000)
        page.wait_for_timeout(1200)
        second.locator(".compare").scroll_into_view_if_needed()
        page.screenshot(path=str(out_dir / "web_followup.png"))
        page.click("#new-thread")
        page.fill("#prompt", "quickly and slowly")
        page.click("#send")
        page.locator("article.msg.bot .error", has_text="no objects").wait_for(timeout=60_000)
        page.screenshot(path=str(out_dir / "web_errors.png"))
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/img")
