"""The real app in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Clicks through the leaderboard and side-by-side pages, checks that a `<script>` / remote `<img>` in a
model output stays inert, and saves screenshots under reports/screenshots/ as CI artifacts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = ROOT / "reports" / "screenshots"

if not (CHROMIUM and DRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
    pytest.skip("chromium / chromedriver not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_ui(reports, log_path):
    """`evalharness ui` on a free loopback port, healthy; stopped (and waited for) on exit."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    from evalharness import procs

    with open(log_path, "w") as log:
        # Its own group and a parent-death signal: `ui` passes SIGTERM on to Streamlit, and neither
        # outlives pytest (evalharness/procs.py).
        proc = procs.spawn([sys.executable, "-m", "evalharness.cli", "ui", "--reports", str(reports),
                            "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "_stcore/health", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the UI did not start in 60 s"
                time.sleep(0.3)
            yield url, port
        finally:
            procs.stop(proc, timeout_s=20)


@pytest.fixture
def ui_server(ui_runs, tmp_path):
    with running_ui(ui_runs["reports"], tmp_path / "ui.log") as (url, port):
        yield url, port


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(a)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for a driver online
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_text(driver, text: str, timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while text not in driver.find_element("tag name", "body").text:
        assert time.monotonic() < deadline, f"{text!r} not shown; page says: {driver.find_element('tag name', 'body').text[:800]}"
        time.sleep(0.25)


def wait_el(driver, xpath: str, timeout: float = 45):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            el = driver.find_element("xpath", xpath)
            if el.is_displayed():
                return el
        except (NoSuchElementException, StaleElementReferenceException):
            pass
        assert time.monotonic() < deadline, f"{xpath} not found"
        time.sleep(0.25)


def click_page(driver, name: str) -> None:
    wait_el(driver, f"//section[@data-testid='stSidebar']//label[.//p[text()='{name}']]").click()


def test_click_through_leaderboard_and_side_by_side(ui_server, browser, ui_runs):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.keys import Keys

    url, port = ui_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(url)
    newest = sorted(p.name for p in ui_runs["runs"])[-1]
    wait_text(browser, newest)
    wait_text(browser, "Runs")
    browser.save_screenshot(str(SHOTS / "1-runs.png"))

    click_page(browser, "Leaderboard")
    wait_text(browser, "best category accuracy: big 100%")
    wait_text(browser, "Cost and speed")
    browser.save_screenshot(str(SHOTS / "2-leaderboard.png"))

    click_page(browser, "Side by side")
    wait_text(browser, "4 case(s) match")
    search = wait_el(browser, "//input[@aria-label='Search']")
    search.send_keys("window.__pwned", Keys.ENTER)
    wait_text(browser, "1 case(s) match")
    wait_text(browser, "suite qa · case xss")
    wait_text(browser, "<script>window.__pwned=1")  # shown as text
    time.sleep(1.0)  # give an injected script or image every chance to act
    browser.save_screenshot(str(SHOTS / "3-side-by-side-injection.png"))
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title != "pwned"
    assert browser.execute_script(
        "return [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__pwned')).length") == 0
    assert browser.execute_script(
        "return [...document.querySelectorAll('img')].filter(i => (i.getAttribute('src') || '').includes('203.0.113.7')).length") == 0
    # the page asked nothing of any host but the app's own
    hosts = browser.execute_script(
        "return [...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).host))]")
    assert set(hosts) <= {f"127.0.0.1:{port}"}, hosts

    wait_el(browser, "//button[.//p[contains(text(), 'Next')]]")  # keyboard-reachable navigation
    click_page(browser, "Trends")
    wait_text(browser, "Trends")
    browser.save_screenshot(str(SHOTS / "4-trends.png"))


def test_ui_binds_loopback_only(ui_server):
    _, port = ui_server
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    others = [a for a in out if not a.startswith("127.") and ":" not in a]
    if not others:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with pytest.raises(OSError):
        socket.create_connection((others[0], port), timeout=3).close()


# ---- Hostile names in every field, on every page: nothing is fetched, nothing runs ----

import http.server  # noqa: E402
import threading  # noqa: E402

from tests.conftest import ServerProc, run_cli, write  # noqa: E402


class Beacon:
    """A real HTTP server on another loopback host (127.0.0.2): any request it gets is a leak."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payload(self, field: str) -> str:
        """A name that would fetch the beacon if any page rendered it as Markdown or HTML."""
        url = f"http://127.0.0.2:{self.port}/{field}"
        relative = f"//127.0.0.2:{self.port}/{field}-rel.png"  # no scheme: it passes any URL check
        return (f"{field}![b]({url}.png)![r]({relative})<img src={url}-img.png onerror=window.__pwned=1>"
                f"[l]({url}) :red[x] <script>window.__pwned=2</script>")


@pytest.fixture
def hostile_reports(tmp_path):
    beacon = Beacon()
    server = ServerProc()
    P = beacon.payload
    reports = tmp_path / "reports"
    try:
        targets = write(tmp_path / "targets.yaml", "targets:\n"
                        f"  - {{name: {json.dumps(P('target'))}, base_url: '{server.base_url}', model: {json.dumps(P('model'))}}}\n"
                        f"  - {{name: plain, base_url: '{server.base_url}', model: plain}}\n")
        out = P("output").replace("\n", " ")
        suite = write(tmp_path / "s" / "s.yaml", "category: accuracy\n" + f"name: {json.dumps(P('suite'))}\n"
                      f"scorers: [{{type: contains, value: {json.dumps(P('reason'))}, name: {json.dumps(P('scorer'))}}}]\n"
                      "gate: {min_pass_rate: 0.5}\ncases:\n"
                      f"  - {{id: {json.dumps(P('case'))}, input: {json.dumps('q REPLY=' + out)}, tags: [{json.dumps(P('tag'))}]}}\n"
                      f"  - {{id: plain, input: 'q REPLY=fine', tags: [plain]}}\n")
        for _ in range(2):  # two runs, for Trends
            r = run_cli("run", str(suite), "--targets", str(targets), "--target", P("target"), "--target", "plain",
                        "--no-cache", "--out", str(reports))
            assert r.returncode in (0, 1), r.stdout + r.stderr
        yield reports, beacon
    finally:
        server.stop()
        beacon.server.shutdown()


def test_hostile_names_on_every_page_fetch_nothing_and_run_nothing(hostile_reports, browser, tmp_path):
    reports, beacon = hostile_reports
    with running_ui(reports, tmp_path / "ui-hostile.log") as (url, port):
        browser.get(url)
        wait_text(browser, "Runs")
        # The newest run is selected (Trends reads both): every page shows every field.
        for page, shown in (("Runs", "Runs"), ("Leaderboard", "Cost and speed"), ("Right-size", "Routing table"),
                            ("Side by side", "case(s) match"), ("Trends", "Trends")):
            click_page(browser, page)
            wait_text(browser, shown)
            if page == "Right-size":
                for scope in ("tag", "suite"):
                    _choose(browser, "Per", scope)
                    wait_text(browser, "Routing table")
            time.sleep(0.5)
            browser.save_screenshot(str(tmp_path / f"hostile-{page}.png"))
        time.sleep(1.0)  # every chance for an image or a script to act
        assert beacon.hits == [], beacon.hits
        assert browser.execute_script("return window.__pwned === undefined")
        hosts = browser.execute_script(
            "return [...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).host))]")
        assert set(hosts) <= {f"127.0.0.1:{port}"}, hosts


def _choose(driver, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (a combobox: type the option, take it with Enter)."""
    from selenium.webdriver.common.keys import Keys

    box = wait_el(driver, f"//input[@role='combobox'][@aria-label='{label}']")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(option)
    wait_el(driver, f"//*[@role='option'][normalize-space(.)='{option}']").click()
    deadline = time.monotonic() + 30
    while driver.find_element("xpath", f"//input[@aria-label='{label}']").get_attribute("value") != option:
        assert time.monotonic() < deadline, f"{label} did not take {option!r}"
        time.sleep(0.25)
