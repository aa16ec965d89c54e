"""The staff console's browser suite: fixtures.

A fresh `nhip-local` on a free port and an empty data folder for the whole run (its first
start creates the `admin` account and prints its one-time password), Debian's chromium driven
by Playwright (never a downloaded browser), and helpers to sign in, to post a web lead, to
call the API with a token, and to move the simulated clock.

Run by scripts/test.sh; by hand: `.venv/bin/pytest tests/browser` (NHIP_LOCAL_BIN names the
runner binary, target/debug/nhip-local by default; NHIP_CHROMIUM the browser).
"""

import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("NHIP_LOCAL_BIN", str(ROOT / "target" / "debug" / "nhip-local"))
CHROMIUM = os.environ.get("NHIP_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "docs" / "console"
# The password every account is given at its first sign-in.
PASSWORD = "Mat-khau-rieng-2026"
# 08:00 in Hồ Chí Minh City, a Tuesday.
START_AT = "2026-12-01T01:00:00Z"
# The call centre's shared secret the runner is started with (the incoming-call webhook).
TELEPHONY_SECRET = "browser-suite-call-centre-secret-of-32-bytes"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runner:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nhip-browser-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(self.dir) / "runner.log", "w")
        self.process = subprocess.Popen(
            [BIN, "--addr", f"127.0.0.1:{self.port}", "--data-dir", self.dir, "--seeds", "none",
             "--start-at", START_AT],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            env={**os.environ, "NHIP_TELEPHONY_SECRET": TELEPHONY_SECRET},
        )
        self.admin_password = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("nhip-local exited: " + Path(self.dir, "runner.log").read_text())
            found = re.search(r"one-time password (\S+)", line)
            if found:
                self.admin_password = found.group(1)
                break
        assert self.admin_password, "the runner printed no one-time admin password"
        self.passwords = {"admin": self.admin_password}
        self._token = None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()

    def cli(self, *args):
        done = subprocess.run([BIN, *args, "--data-dir", self.dir], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def add_team(self, key, name, manager=""):
        self.cli("team", "add", "--key", key, "--name", name, "--manager", manager)

    def add_user(self, username, name, role, team=""):
        """A member of staff, with their one-time password kept for sign_in."""
        self.passwords[username] = self.cli("user", "add", "--username", username, "--name", name,
                                            "--role", role, "--team", team)

    def token(self):
        if not self._token:
            self._token = self.cli("token", "--user", "browser-suite", "--role", "admin")
        return self._token

    def call(self, method, path, body=None, token=True, content_type="application/json"):
        data = None
        headers = {}
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["content-type"] = content_type
        if token:
            headers["authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text.startswith(("{", "[")) else text)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text.startswith(("{", "[")) else text)

    def lead(self, full_name, phone, **fields):
        status, _ = self.call("POST", "/v1/intake/leads", {
            "full_name": full_name, "phone": phone, "source": "website_form", **fields}, token=False)
        assert status == 202

    def customer(self, **fields):
        status, body = self.call("POST", "/v1/customers", {"source": "assigned", **fields})
        assert status == 201, body
        return body

    def find(self, phone):
        status, body = self.call("GET", f"/v1/customers?phone={phone}")
        assert status == 200, body
        return body["items"][0]

    def assign(self, customer_id, owner, team):
        current = self.call("GET", f"/v1/customers/{customer_id}")[1]
        status, body = self.call("POST", f"/v1/customers/{customer_id}/owner",
                                 {"owner": owner, "team": team, "version": current["version"]})
        assert status == 200, body

    def incoming_call(self, call_id, caller, extension):
        """The call centre's webhook, signed as it signs it, at the runner's clock."""
        now = self.call("GET", "/local/clock", token=False)[1]["now"]
        stamp = str(int(datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp()))
        body = json.dumps({"call_id": call_id, "caller": caller, "extension": extension}).encode()
        digest = hmac.new(TELEPHONY_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url + "/v1/telephony/incoming", data=body, method="POST", headers={
            "content-type": "application/json", "x-nhip-timestamp": stamp, "x-nhip-signature": f"sha256={digest}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read().decode())

    def advance(self, seconds):
        status, _ = self.call("POST", "/local/clock/advance", {"seconds": seconds}, token=False)
        assert status == 200


@pytest.fixture(scope="session")
def runner():
    started = Runner()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh",
                                  viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def sign_in(page, runner, username):
    """Signs in; on a first sign-in, chooses the suite's password when asked."""
    page.goto(runner.url + "/")
    page.fill("#username", username)
    page.fill("#password", runner.passwords[username])
    page.click("button[type=submit]")
    if page.url.endswith("/app/password"):
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
        page.click("button[type=submit]")
        runner.passwords[username] = PASSWORD
    page.wait_for_url(re.compile(r"/app(\?.*)?$"))


def shot(page, name):
    """A screenshot for docs/console/, made by the suite, never by hand."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
