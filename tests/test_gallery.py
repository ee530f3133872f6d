"""The static gallery: its files, and a render in headless Chromium (no console errors, every image loads,
nothing fetched from the network, sorting and filtering work)."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

import pytest

pytest.importorskip("matplotlib")

import actlab  # noqa: E402
from actlab.plot import gallery  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from actlab.functions.formula import define

    user = define("x * tanh(softplus(beta * x))", name="gallery_user_mish", params={"beta": 1.0}, warn=False)
    try:
        out = tmp_path_factory.mktemp("gallery") / "site"
        index = gallery(out)
        yield index
    finally:
        actlab.unregister(user.name)


def test_every_activation_has_a_card_plot_and_formula(site):
    page = site.read_text(encoding="utf-8")
    root = site.parent
    names = {r["name"] for r in json.loads((root / "activations.json").read_text())}
    assert "gallery_user_mish" in names and {"relu", "sigmoid", "tanh", "softmax"} <= names
    for name in names:
        slug = re.sub(r"[^a-z0-9_-]", "_", name.lower())
        assert f'id="act-{slug}"' in page, name
        assert (root / "plots" / f"{slug}.svg").exists(), name
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]+)"', page)
    assert len(srcs) >= 2 * len(names)
    for src in srcs:
        assert not re.match(r"[a-z]+:", src), src  # relative: nothing from elsewhere
        assert (root / html.unescape(src)).is_file(), src
    formulas = [s for s in srcs if s.startswith("formulas/")]
    assert len(formulas) >= 0.9 * 2 * len([n for n in names if actlab.get(n).is_elementwise])
    # offline: no external scripts, styles, fonts or links to fetch
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    assert "Nair & Hinton" in html.unescape(page)  # the paper citations
    assert page.count("<tr data-card=") == len(names)


def test_one_broken_entry_does_not_sink_the_page(tmp_path, monkeypatch):
    import actlab.plot as ap

    real = ap.curves

    def flaky(act, **kw):
        if getattr(act, "name", "") == "tanh":
            raise RuntimeError("boom")
        return real(act, **kw)

    monkeypatch.setattr(ap, "curves", flaky)
    heard: list[str] = []
    index = gallery(tmp_path / "site", names=["relu", "tanh"], on_problem=heard.append)
    page = index.read_text()
    assert heard == ["tanh: no plot: boom"]
    assert 'id="act-tanh"' in page and "no plot: boom" in page and "plots/tanh.svg" not in page
    assert (tmp_path / "site" / "plots" / "relu.svg").exists()


def test_plot_files_are_self_contained(site):
    svg = (site.parent / "plots" / "relu.svg").read_text()
    assert not re.search(r"""(href|src)\s*=\s*["'](https?:|//)""", svg)
    assert "<path" in svg


# --- the browser test ----------------------------------------------------------------------------


def _chromium() -> str | None:
    env = os.environ.get("ACTLAB_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Headless Chromium over ``--remote-debugging-pipe`` (DevTools protocol on fds 3 and 4); stdlib only."""

    def __init__(self, exe: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="actlab-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-sync",
            "--disable-component-update",
            "--disable-dev-shm-usage",
            "--mute-audio",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash puts the pipe ends on fds 3 and 4 (what --remote-debugging-pipe reads and writes), so no
        # Python code runs between fork and exec (dash cannot redirect from fds above 9).
        shell = shutil.which("bash") or "/bin/sh"
        self.proc = subprocess.Popen(
            [shell, "-c", f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_chrome_r, from_chrome_w),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60
    ) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for m in self.events:
            if m.get("method") == method:
                return m
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            self.events.append(m)
            if m.get("method") == method:
                return m

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing anyway
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(site):
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed (set ACTLAB_CHROMIUM to its path)")
    b = Browser(exe)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            b.send(f"{domain}.enable", session=session)
        b.send("Page.navigate", {"url": site.resolve().as_uri()}, session=session)
        b.wait_for("Page.loadEventFired", timeout=120)
        b.drain(1.0)

        def evaluate(expression: str):
            r = b.send(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True, "awaitPromise": True},
                session=session,
            )
            if "exceptionDetails" in r:
                raise AssertionError(f"page script failed: {r['exceptionDetails']}")
            return r["result"].get("value")

        yield b, evaluate
    finally:
        b.close()


@pytest.mark.browser
def test_browser_no_console_errors(page):
    b, evaluate = page
    evaluate("1")
    problems = []
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            problems.append(("exception", p.get("exceptionDetails", {}).get("text")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            problems.append(("console", [a.get("value") for a in p.get("args", [])]))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            problems.append(("log", p["entry"].get("text"), p["entry"].get("url")))
        elif m == "Network.loadingFailed":
            problems.append(("failed", p.get("errorText")))
    assert problems == []


@pytest.mark.browser
def test_browser_every_image_loads(page):
    b, evaluate = page
    images = evaluate(
        "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
    )
    assert len(images) > 100
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert broken == []
    assert evaluate("document.documentElement.getAttribute('data-images-failed')") == ""
    assert int(evaluate("document.documentElement.getAttribute('data-images-ok')")) == len(images)


@pytest.mark.browser
def test_browser_fetches_nothing_from_the_network(page):
    b, _ = page
    urls = [e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), [
        u for u in urls if not u.startswith(("file:", "data:"))
    ]


@pytest.mark.browser
def test_browser_table_sorts_and_filters(page):
    _, evaluate = page
    n = evaluate("document.querySelectorAll('#props tbody tr').length")
    assert n == len(actlab.names())
    assert evaluate("document.getElementById('count').textContent") == f"{n} of {n} shown"
    # sort by year, ascending then descending
    col = evaluate(
        "Array.from(document.querySelectorAll('#props thead th')).findIndex(h => h.textContent == 'year')"
    )
    years_js = (
        f"Array.from(document.querySelectorAll('#props tbody tr')).map(r => r.cells[{col}]"
        ".getAttribute('data-value')).filter(v => v !== '').map(Number)"
    )
    evaluate(f"document.querySelectorAll('#props thead th')[{col}].click(); 1")
    years = evaluate(years_js)
    assert years == sorted(years) and len(years) > 10
    evaluate(f"document.querySelectorAll('#props thead th')[{col}].click(); 1")
    assert evaluate(years_js) == sorted(years, reverse=True)
    # sort by name
    evaluate("document.querySelectorAll('#props thead th')[0].click(); 1")
    assert (
        evaluate("""(() => { const n = Array.from(document.querySelectorAll('#props tbody tr'))
        .map(r => r.cells[0].textContent); return n.every((v, i) => i === 0 || n[i - 1].localeCompare(v) <= 0)
        && n.length > 10; })()""")
        is True
    )
    # text filter
    shown = evaluate("""(() => { const q = document.getElementById('q'); q.value = 'relu';
        q.dispatchEvent(new Event('input')); return Array.from(document.querySelectorAll('#props tbody tr'))
        .filter(r => !r.classList.contains('hidden')).map(r => r.cells[0].textContent); })()""")
    assert "relu" in shown and "leaky_relu" in shown and "tanh" not in shown
    assert evaluate("document.getElementById('act-tanh').hidden") is True
    # family and property filters
    shown = evaluate("""(() => { const q = document.getElementById('q'); q.value = '';
        q.dispatchEvent(new Event('input'));
        const f = document.getElementById('family'); f.value = 'sigmoidal';
        f.dispatchEvent(new Event('input'));
        const m = document.querySelector('select[data-filter=zero_centred]');
        m.value = 'yes'; m.dispatchEvent(new Event('input'));
        return Array.from(document.querySelectorAll('#props tbody tr'))
        .filter(r => !r.classList.contains('hidden')).map(r => r.cells[0].textContent); })()""")
    want = {a.name for a in actlab.catalog("sigmoidal", zero_centred=True)}
    assert set(shown) == want and "tanh" in want
