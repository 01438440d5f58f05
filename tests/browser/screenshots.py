"""Screenshots of the developer portal at phone and desktop widths (not committed).

    target/tools/playwright/bin/python tests/browser/screenshots.py [PORTAL_URL] [OUT_DIR]

PORTAL_URL defaults to http://127.0.0.1:8080/docs (scripts/run's stack), OUT_DIR to
target/portal-screenshots. Writes <width>-top.png and <width>-full.png (the whole page).
"""

import os
import sys

from playwright.sync_api import sync_playwright

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/docs"
out = sys.argv[2] if len(sys.argv) > 2 else "target/portal-screenshots"
os.makedirs(out, exist_ok=True)
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    for name, (w, h) in {"phone": (390, 844), "desktop": (1280, 900)}.items():
        page = b.new_page(viewport={"width": w, "height": h})
        page.goto(url)
        page.wait_for_selector("html[data-portal-ready=true]", timeout=60000)
        page.screenshot(path=os.path.join(out, f"{name}-top.png"))
        page.screenshot(path=os.path.join(out, f"{name}-full.png"), full_page=True)
        print(os.path.join(out, f"{name}-top.png"), os.path.join(out, f"{name}-full.png"))
        page.close()
    b.close()
