"""The console in a real headless browser: Debian's chromium driven by Playwright (no browser download),
against real servers on SQLite (events in the process) and PostgreSQL (events over Redis pub/sub)."""
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import running_server
from tests.servers import ROOT, fresh_redis_url, require_backend

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTEFACTS = ROOT / "test-artefacts" / "console"  # screenshots, gitignored
API_KEY = "console-test-api-key-0123456789"
PASSWORD = "correct horse battery"
ACCOUNTS = {"ada": "admin", "otto": "operator", "vera": "viewer"}


def create_account(server, name: str, role: str, password: str = PASSWORD) -> None:
    """As the README says to make the first account: `flask user create NAME --role ROLE`."""
    result = subprocess.run([sys.executable, "-m", "flask", "user", "create", name, "--role", role,
                             "--password", password], cwd=ROOT, env=server.environment, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"created {name} ({role})" in result.stdout


def create_accounts(server, accounts: dict[str, str], password: str = PASSWORD) -> None:
    """Several accounts in one process (each `flask` command pays the application's start-up)."""
    script = ("import sys\nfrom app import create_app\nfrom app.services import users\n"
              "with create_app().app_context():\n"
              "    for name, role in zip(sys.argv[1::2], sys.argv[2::2]):\n"
              "        users.create(name, role, %r)\n" % password)
    arguments = [item for pair in accounts.items() for item in pair]
    result = subprocess.run([sys.executable, "-c", script, *arguments], cwd=ROOT, env=server.environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def console_server(request, tmp_path_factory, keep):
    """A server with API keys (so that /api is closed to the console's cookie) and three accounts; the
    PostgreSQL one carries its live events over Redis."""
    require_backend(request.param)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    return keep(("console", request.param), lambda: running_console_server(request.param, tmp_path_factory))


@contextmanager
def running_console_server(backend: str, tmp_path_factory):
    settings = {"API_KEYS": API_KEY, "OCPP_COMMAND_TIMEOUT": 3}
    if backend == "postgres":
        settings["REDIS_URL"] = fresh_redis_url()
    with running_server(backend, tmp_path_factory, **settings) as server:
        create_account(server, "ada", ACCOUNTS["ada"])
        create_accounts(server, {name: role for name, role in ACCOUNTS.items() if name != "ada"})
        yield server


@pytest.fixture(scope="session")
def artefacts() -> Path:
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    return ARTEFACTS


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    """One chromium for the whole run (each test gets contexts of its own): launching one per test would
    cost a second each."""
    from playwright.async_api import async_playwright
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def sign_in(browser, console_server):
    """sign_in(name) -> a page of a new browser context, signed in as that account; the contexts are
    closed after the test."""
    contexts = []

    async def open_page(name: str):
        context = await browser.new_context(base_url=console_server.api_url, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        await page.goto("/sign-in")
        await page.fill("input[name=name]", name)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(console_server.api_url + "/")
        return page
    yield open_page
    for context in contexts:
        await context.close()
