"""Charts in JupyterLab itself, driven the way a user drives it: headless Chromium (through Playwright) opens a
notebook in a real JupyterLab server with every request off the machine blocked, runs it, restarts the kernel and
runs it all again, then opens a second notebook in the same page. Every chart must end as a live Vega view (the
static picture replaced) with a working tooltip, and the page must log no script error.

Skips when Debian's Chromium or Playwright is missing (``make test`` installs nothing system-wide). It lives in
``tests/browser`` so that it is collected early: its minute of servers and kernels then runs beside the other
worker's files instead of after them, at the end of ``make test``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from tests.conftest import CHROMIUM
from tests.viz.test_notebook_renderer import PLAIN_NOTEBOOK

CELLS = PLAIN_NOTEBOOK[:2]
"""The import and one chart: each step's new kernel sends the page its bundle with that chart."""

pytestmark = pytest.mark.slow

playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JupyterLab server on a loopback port serving a folder with two plain notebooks; its URL."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    root = tmp_path_factory.mktemp("lab")
    for name in ("first.ipynb", "second.ipynb"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, root / name)
    port = _free_port()
    home = root / ".home"
    env = {
        **os.environ,
        "HOME": str(home),  # settings, workspaces and runtime files of this server only
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "ENGAGEMENT_LAB_CHARTS": "interactive",
    }
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}", "--allow-root", "--LabApp.expose_app_in_browser=True",
            f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "server.log").open("w"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((root / "server.log").read_text()[-3000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


LIVE_CHARTS = """() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .engagement-lab-chart'))
  .filter(c => c.querySelector('.vega-embed') && !c.querySelector('.engagement-lab-static')).map(c => c.id)"""


def _wait_for_live_charts(page: Any, count: int, not_in: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The ids of the visible notebook's live charts once ``count`` of them (none of ``not_in``) are drawn."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        live = [i for i in page.evaluate(LIVE_CHARTS) if i not in not_in]
        if len(live) >= count:
            return live
        page.wait_for_timeout(250)
    statics = page.evaluate("() => document.querySelectorAll('.engagement-lab-static').length")
    raise AssertionError(f"{len(live)} of {count} charts live after 45 s; {statics} static pictures on the page")


def _tooltip_works(page: Any) -> bool:
    """Hover each mark of the first visible chart until vega-tooltip shows its box (hidden first, so a box left
    from an earlier chart does not count)."""
    page.mouse.move(0, 0)
    page.wait_for_function("() => !document.querySelector('#vg-tooltip-element.visible')", timeout=5_000)
    marks = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .vega-embed svg .mark-symbol path")
    for i in range(min(marks.count(), 6)):
        marks.nth(i).hover(force=True)
        page.wait_for_timeout(150)
        if page.evaluate("() => !!document.querySelector('#vg-tooltip-element.visible')"):
            return True
    return False


KERNEL_READY = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle' && w.title.label === '%s'; }"""


def _run_all(page: Any, notebook: str, command: str) -> None:
    """Once the notebook's kernel is connected and idle, run ``command`` on it."""
    page.wait_for_function(KERNEL_READY % notebook, timeout=45_000)
    page.evaluate(f"() => {{ window.jupyterapp.commands.execute('{command}'); }}")


@pytest.fixture(scope="module")
def page(lab: str) -> Iterator[Any]:
    """One browser page on the lab, kept across this module's tests (they are the steps of one session, in
    order); script errors and any request off the machine are recorded on it and checked at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page: Any = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.blocked, page.errors, page.charts, page.done = [], [], set(), set()

            def route(request_route: Any) -> None:
                if request_route.request.url.startswith(lab):
                    request_route.continue_()
                else:
                    page.blocked.append(request_route.request.url)
                    request_route.abort()

            def console(message: Any) -> None:
                if message.type == "error" and "vega" in message.text.lower():
                    page.errors.append(message.text)

            page.route("**/*", route)
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            page.on("console", console)
            page.goto(f"{lab}/lab/tree/first.ipynb")
            yield page
        finally:
            browser.close()


def _step(page: Any, notebook: str, command: str) -> None:
    """Run ``command`` on ``notebook``; its chart must turn live (new ones, not the page's earlier charts)
    with a working tooltip, and the page must have logged no script error and sent nothing off the machine."""
    if notebook != "first.ipynb":  # the page's URL opened the first; later ones open beside it, in the same page
        page.wait_for_function("() => !!window.jupyterapp", timeout=45_000)
        page.evaluate(f"() => {{ window.jupyterapp.commands.execute('docmanager:open', {{path: '{notebook}'}}); }}")
    _run_all(page, notebook, command)
    if command == "notebook:restart-run-all":
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=15_000)
    page.charts |= set(_wait_for_live_charts(page, 1, not_in=page.charts))
    assert _tooltip_works(page), f"hovering the marks of {notebook}'s chart showed no tooltip"
    assert not page.errors, page.errors
    assert page.blocked == [], page.blocked


STEPS = {
    "run all": ("first.ipynb", "notebook:run-all-cells"),
    "restart and run all": ("first.ipynb", "notebook:restart-run-all"),
    "a second notebook": ("second.ipynb", "notebook:run-all-cells"),
}
"""The session's steps, in order: each test runs the steps before its own that have not run yet, so a test run
alone (``-k restart``) still sees a page that already holds a bundle."""


def _through(page: Any, last: str) -> None:
    for name, (notebook, command) in STEPS.items():
        if name not in page.done:
            _step(page, notebook, command)
            page.done.add(name)
        if name == last:
            return


def test_a_notebook_run_in_jupyterlab_draws_live_charts(page: Any) -> None:
    _through(page, "run all")


def test_charts_stay_live_after_restart_kernel_and_run_all(page: Any) -> None:
    _through(page, "restart and run all")


def test_a_second_notebook_in_the_same_page_draws_live_charts(page: Any) -> None:
    _through(page, "a second notebook")
