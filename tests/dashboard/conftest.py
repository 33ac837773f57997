"""Dashboard fixtures: an organization with a user who can sign in."""
from __future__ import annotations

import re
import secrets

import pytest

from shared.services import organizations

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def member(settings) -> dict:
    """A fresh organization and its admin user (email unique per test)."""
    email = f"admin-{secrets.token_hex(4)}@example.com"
    created = organizations.create_organization(f"Acme {secrets.token_hex(3)}",
                                                admin_email=email, admin_password=PASSWORD)
    created["password"] = PASSWORD
    created["headers"] = {"Authorization": f"Bearer {created['api_key']}"}
    return created


def login_form_token(client) -> str:
    page = client.get("/login")
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, "the sign-in form carries a CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str, **kwargs):
    token = login_form_token(client)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}, **kwargs)


def page_csrf(client, path: str = "/app/jobs") -> str:
    """The CSRF token a signed-in page hands its scripts."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


# --- Browser tests: a real HTTP server in a thread and one headless Chromium per session ---

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP on a free port (browsers need sockets, not a test client)."""
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # one line per static file is noise
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    # request threads are joined on close: one still talking to the database at interpreter
    # exit can deadlock the connection pool's finalizers and hang the whole test run
    server.daemon_threads = False
    server.block_on_close = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture(scope="session")
def browser():
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies, no localStorage) per test."""
    context = browser.new_context(base_url=live_server, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def browser_sign_in(page, member: dict) -> None:
    page.goto("/login")
    page.fill("input[name=email]", member["admin_email"])
    page.fill("input[name=password]", member["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/app/**")
