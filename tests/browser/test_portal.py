"""The developer portal in a real browser (Playwright driving the system Chromium).

Run by `cargo test -p blackbox --test portal`, which starts the local stack and passes:
PORTAL_BASE_URL (the stack's root URL), PORTAL_KIT (the demo partner's kit) and AXE_JS
(the vendored axe-core). Checks, at phone and desktop widths: no console error, no request to
another origin (and still usable with other origins blocked), every operation and error code of
the served OpenAPI document on the page, the signature calculator against the documented test
vectors without any request, the curl and Python samples of Submit and Tracking run as shown
against the stack with the demo kit, and no serious or critical axe-core violation.
"""

import json
import os
import subprocess
import tempfile
import time
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

BASE = os.environ["PORTAL_BASE_URL"].rstrip("/")
PORTAL = BASE + "/docs"
KIT = json.load(open(os.environ["PORTAL_KIT"]))
AXE_JS = open(os.environ["AXE_JS"]).read()
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}


def served_document():
    with urllib.request.urlopen(BASE + "/api/v1/openapi.json") as r:
        return json.load(r)


DOC = served_document()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "options", "head", "trace"):
                yield method.upper(), path, op


def resolve(doc, v):
    ref = v.get("$ref") if isinstance(v, dict) else None
    if ref:
        node = doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node
    return v


def codes_of(doc, schema, out):
    schema = resolve(doc, schema)
    for field in ("code", "error"):
        p = schema.get("properties", {}).get(field, {})
        if "const" in p:
            out.add(p["const"])
        out.update(p.get("enum", []))
    for key in ("allOf", "oneOf", "anyOf"):
        for s in schema.get(key, []):
            if "$ref" not in s:
                codes_of(doc, s, out)


def error_codes(doc):
    out = set()
    for _, _, op in operations(doc):
        for resp in op.get("responses", {}).values():
            media = resolve(doc, resp).get("content", {}).get("application/json")
            if media:
                codes_of(doc, media["schema"], out)
    return out


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


class Visit:
    """One page load with everything it requested and logged."""

    def __init__(self, browser, width, block_others=True):
        w, h = WIDTHS[width]
        self.context = browser.new_context(viewport={"width": w, "height": h})
        self.page = self.context.new_page()
        self.requests, self.foreign, self.errors, self.bytes = [], [], [], 0
        if block_others:
            # Another origin is unreachable, as if the network allowed nothing else.
            self.context.route("**/*", lambda route: route.continue_()
                               if route.request.url.startswith(BASE) or route.request.url.startswith(("data:", "blob:"))
                               else route.abort())
        self.page.on("request", self._request)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfinished", self._finished)
        started = time.monotonic()
        self.page.goto(PORTAL)
        self.page.wait_for_selector("html[data-portal-ready=true]", timeout=60000)
        self.ready_s = time.monotonic() - started
        self.page.wait_for_load_state("networkidle")

    def _request(self, r):
        self.requests.append(r.url)
        if not r.url.startswith((BASE, "data:", "blob:")):
            self.foreign.append(r.url)

    def _finished(self, r):
        try:
            self.bytes += r.sizes()["responseBodySize"]
        except Exception:
            pass

    def close(self):
        self.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_loads_from_this_origin_only_without_console_errors(browser, width):
    v = Visit(browser, width, block_others=False)
    try:
        assert v.foreign == [], f"requests to other origins: {v.foreign}"
        assert v.errors == [], f"console errors: {v.errors}"
        print(f"\n[{width}] ready (first render) in {v.ready_s:.2f} s, {len(v.requests)} requests, "
              f"{v.bytes / 1024:.0f} KiB transferred")
    finally:
        v.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_usable_with_other_origins_blocked(browser, width):
    v = Visit(browser, width, block_others=True)
    try:
        assert v.errors == [], f"console errors: {v.errors}"
        page = v.page
        # The guides and the reference are there and navigable.
        assert page.locator('[id="section/Getting-started"]').count() == 1
        assert page.locator("text=Request signature").first.is_visible() or width == "phone"
        if width == "phone":
            page.locator(".menu-content").first.wait_for(state="attached")
        page.goto(PORTAL + "#tag/Insurance/operation/submitSmeDelivery")
        page.wait_for_selector("html[data-portal-ready=true]")
        heading = page.locator("h2", has_text="Submit SME Delivery").first
        heading.wait_for()
        assert heading.is_visible()
    finally:
        v.close()


def test_every_operation_and_every_error_code_appears(browser):
    v = Visit(browser, "desktop")
    try:
        page = v.page
        text = page.evaluate("document.body.innerText")
        missing = []
        for method, path, op in operations(DOC):
            anchor = page.locator(f'[id$="operation/{op["operationId"]}"]')
            if anchor.count() == 0 or op["summary"] not in text:
                missing.append(f"{method} {path} ({op['operationId']})")
        assert not missing, f"operations not on the page: {missing}"
        codes = error_codes(DOC)
        assert len(codes) >= 20
        absent = [c for c in sorted(codes) if page.locator(f"#error-{c}").count() == 0 or c not in text]
        assert not absent, f"error codes not on the page: {absent}"
    finally:
        v.close()


def test_the_signature_calculator_gives_the_documented_vectors_and_sends_nothing(browser):
    v = Visit(browser, "phone")
    try:
        page = v.page
        before = len(v.requests)
        vectors = DOC["x-signature-test-vectors"]
        assert len(vectors) >= 4
        for vec in vectors:
            page.fill("#sig-key", vec["api_token_key"])
            page.fill("#sig-tracking", vec["tracking_number"])
            page.fill("#sig-amount", str(vec["premium_amount"]))
            assert page.inner_text("#sig-result").strip() == vec["signature"], vec
        page.fill("#sig-amount", "15 000")
        assert page.inner_text("#sig-result").strip() == ""
        assert "integer" in page.inner_text("#sig-problem")
        assert len(v.requests) == before, f"the calculator made requests: {v.requests[before:]}"
        assert not any(vectors[-1]["api_token_key"] in u for u in v.requests)
    finally:
        v.close()


def sample_as_shown(page, operation_id, label):
    """The sample's text as the page shows it (tab clicked, code read from the panel)."""
    op = page.locator(f'[id$="operation/{operation_id}"]').first
    op.scroll_into_view_if_needed()
    op.locator('[role="tab"]', has_text=label).first.click()
    panel = op.locator('[role="tabpanel"]').filter(has=page.locator("pre")).first
    return panel.locator("pre").first.inner_text()


def kit_env():
    env = dict(os.environ)
    env.update({
        "API_BASE_URL": KIT["api_base_url"], "TOKEN_URL": KIT["token_url"],
        "CLIENT_ID": KIT["client_id"], "CLIENT_SECRET": KIT["client_secret"],
        "API_TOKEN_KEY": KIT["api_token_key"],
    })
    return env


def run_sample(label, source):
    with tempfile.TemporaryDirectory() as d:
        if label == "curl":
            path = os.path.join(d, "sample.sh")
            cmd = ["bash", "-eo", "pipefail", path]
        else:
            path = os.path.join(d, "sample.py")
            cmd = ["python3", path]
        open(path, "w").write(source)
        return subprocess.run(cmd, env=kit_env(), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("label", ["curl", "Python"])
def test_submit_and_tracking_samples_run_as_shown(browser, label):
    v = Visit(browser, "desktop")
    try:
        submit = sample_as_shown(v.page, "submitSmeDelivery", label)
        tracking = sample_as_shown(v.page, "insertTrackingDetail", label)
    finally:
        v.close()
    for name, source in [("Submit", submit), ("Tracking", tracking)]:
        assert "API_TOKEN_KEY" in source and ("md5" in source.lower()), source
        r = run_sample(label, source)
        assert r.returncode == 0, f"{label} {name} sample failed:\n{source}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
        body = r.stdout[r.stdout.index("{"):]
        assert json.loads(body)["status"] == "success", r.stdout
        if label == "Python":
            assert r.stdout.split()[0] in ("200", "201"), r.stdout


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_serious_or_critical_accessibility_violation(browser, width):
    v = Visit(browser, width)
    try:
        # Injected through the DevTools protocol: the page's CSP allows no inline script.
        v.page.evaluate(AXE_JS + "\n;0")
        violations = v.page.evaluate(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))")
        assert violations == [], json.dumps(violations, indent=1)
    finally:
        v.close()
