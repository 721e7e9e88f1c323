"""Firefox (the system ``firefox-esr``) driven headless over WebDriver BiDi, the protocol it
speaks natively: Playwright drives only its own patched Firefox build, which cannot be
downloaded here. Enough for tests: open a page, evaluate JavaScript, press keys.

Every connection that would leave the machine goes to a proxy on a closed loopback port, so a
page that needs the network shows it by not working; Firefox's own updates, telemetry and
safe-browsing lookups are off.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
PREFS = {
    "network.proxy.type": 1,  # manual proxy, on a port where nothing listens
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.allow_hijacking_localhost": True,
    "network.proxy.no_proxies_on": "",
    "app.update.enabled": False,
    "app.update.auto": False,
    "toolkit.telemetry.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore",
}
KEYS = {"ArrowRight": "\ue014", "ArrowLeft": "\ue012"}


class Firefox:
    """One BiDi session on one tab."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.call("session.new", capabilities={})
        tree = self.call("browsingContext.getTree")
        self.context = tree["contexts"][0]["context"]

    def call(self, method: str, **params: Any) -> Any:
        """Send a command; return its result (events in between are skipped)."""
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") != number:
                continue
            if message.get("type") == "error":
                raise RuntimeError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message["result"]

    def open(self, url: str) -> None:
        self.call("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` (passed through JSON: return plain data)."""
        result = self.call(
            "script.evaluate",
            expression=f"JSON.stringify(({expression}) ?? null)",
            target={"context": self.context},
            awaitPromise=True,
        )
        if result.get("type") == "exception":
            raise RuntimeError(result["exceptionDetails"].get("text", "a page exception"))
        return json.loads(result["result"]["value"])

    def press(self, key: str) -> None:
        """Press and release ``key`` (a name in KEYS) in the focused element."""
        value = KEYS[key]
        actions = [{"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}]
        self.call(
            "input.performActions",
            context=self.context,
            actions=[{"type": "key", "id": "keyboard", "actions": actions}],
        )

    def click(self, x: float, y: float) -> None:
        """A mouse click at viewport point (x, y): pointer events, as a person's click makes
        (Lumino's tab bars listen to pointerdown, not to ``element.click()``)."""
        pointer = [
            {"type": "pointerMove", "x": round(x), "y": round(y)},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        self.call(
            "input.performActions",
            context=self.context,
            actions=[
                {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                 "actions": pointer}
            ],
        )  # fmt: skip


@contextlib.contextmanager
def firefox(profile: Path) -> Iterator[Firefox]:
    """A headless Firefox with a fresh ``profile`` folder; closed when the block ends."""
    import websocket  # websocket-client, a Jupyter server dependency

    assert FIREFOX, "no firefox-esr or firefox on PATH"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
    )
    log = profile / "firefox.log"
    command = [
        FIREFOX, "--headless", "--no-remote", "--profile", str(profile),
        "--remote-debugging-port=0", "--window-size=1200,900", "about:blank",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(rb"ws://[\d.]+:\d+", log.read_bytes())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Firefox did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        url = found.group(0).decode() + "/session"  # no Origin header: Firefox refuses one
        socket = websocket.create_connection(url, timeout=60, suppress_origin=True)
        try:
            yield Firefox(socket)
        finally:
            socket.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
