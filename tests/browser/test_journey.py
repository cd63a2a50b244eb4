"""The seed's journey in a real headless Chromium against `okta-bearer demo`.

SPA: open it, get redirected to the sign-in page, sign in, come back with the
token in the fragment (which the page then removes), see the API's 200 with
claims, the 403 for a scope the SPA lacks and the 401 for a tampered token.
Then the same API through Swagger UI's Authorize button at /docs.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from .demo import Demo

pytestmark = pytest.mark.browser


def sign_in(page: Page, demo: Demo, password: str | None = None) -> None:
    """Fill and submit the dev issuer's sign-in form shown on ``page``."""
    expect(page.locator("#password")).to_be_visible()
    page.fill("#username", demo.user)
    page.fill("#password", password or demo.password)
    page.click("#sign-in")


def wait_closed(popup: Page, opener: Page) -> None:
    """Wait until ``popup`` has closed (it may already have: no event race).

    Polls through ``opener.wait_for_timeout``, which lets Playwright's sync API
    process the close event (``time.sleep`` would not).
    """
    deadline = time.monotonic() + 30
    while not popup.is_closed():
        # The URL may hold a token: show only its path.
        assert time.monotonic() < deadline, f"pop-up still open at {popup.url.split('#')[0]}"
        opener.wait_for_timeout(50)


def expect_results(page: Page) -> None:
    """The SPA's three API calls show 200 with claims, 403 and 401."""
    expect(page.get_by_test_id("whoami-status")).to_have_text("200 OK")
    body = page.get_by_test_id("whoami-body")
    expect(body).to_contain_text('"sub": "alice@example.com"')
    expect(body).to_contain_text('"items:read"')
    expect(page.get_by_test_id("forbidden-status")).to_have_text("403 Forbidden")
    challenge = page.get_by_test_id("forbidden-challenge")
    expect(challenge).to_contain_text('error="insufficient_scope"')
    expect(challenge).to_contain_text('scope="items:write"')
    expect(page.get_by_test_id("tampered-status")).to_have_text("401 Unauthorized")
    expect(page.get_by_test_id("tampered-challenge")).to_contain_text('error="invalid_token"')


def test_spa_implicit_flow(context: BrowserContext, demo: Demo) -> None:
    """Open the SPA, sign in (after a wrong password), and see 200, 403 and 401 from the API."""
    page = context.new_page()
    main_urls: list[str] = []
    page.on("framenavigated", lambda frame: main_urls.append(frame.url))
    logins: list[Response] = []
    page.on("response", lambda r: logins.append(r) if r.url.endswith("/v1/login") else None)

    page.goto(demo.spa)
    # Redirected to the issuer's sign-in page, with state and nonce.
    expect(page).to_have_url(re.compile(re.escape(demo.issuer + "/v1/authorize?")))
    assert re.search(r"[?&]state=[\w-]{40,}", page.url)
    assert re.search(r"[?&]nonce=[\w-]{40,}", page.url)

    sign_in(page, demo, password="not-the-password")
    expect(page.locator("#error")).to_contain_text("wrong username or password")
    sign_in(page, demo)

    expect_results(page)
    expect(page.get_by_test_id("status")).to_have_text("Signed in as Alice (implicit flow).")
    # The browser came back with the token in the fragment...
    assert logins[-1].status == 303
    location = logins[-1].headers["location"]
    assert location.startswith(demo.spa + "#access_token=")
    assert "&token_type=Bearer&expires_in=3600&scope=" in location
    assert any(url.startswith(demo.spa + "#access_token=") for url in main_urls)
    # ...and the page removed it, keeping the token out of storage.
    assert page.url == demo.spa
    assert page.evaluate("location.hash") == ""
    stored = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert "eyJ" not in stored

    # A reload signs in again through the session: no sign-in form this time.
    logins.clear()
    page.reload()
    expect_results(page)
    assert logins == []


def test_spa_pkce_flow_after_sign_out(context: BrowserContext, demo: Demo) -> None:
    """Sign out, then sign in with code + PKCE: the API answers the same 200, 403 and 401."""
    page = context.new_page()
    page.goto(demo.spa)
    sign_in(page, demo)
    expect(page.get_by_test_id("whoami-status")).to_have_text("200 OK")

    page.click("#sign-out")
    expect(page.get_by_test_id("status")).to_have_text("Signed out.")
    page.click("#sign-in-pkce")
    expect(page).to_have_url(re.compile(r"response_type=code"))
    assert "code_challenge_method=S256" in page.url
    sign_in(page, demo)  # the session ended, so the form is shown again
    expect_results(page)
    expect(page.get_by_test_id("status")).to_have_text("Signed in as Alice (code flow).")
    assert page.url == demo.spa


def test_spa_shows_access_denied(context: BrowserContext, demo: Demo) -> None:
    """Cancelling the sign-in brings the SPA back with access_denied, shown, with no loop."""
    page = context.new_page()
    page.goto(demo.spa)
    expect(page.locator("#cancel")).to_be_visible()
    page.click("#cancel")
    expect(page.get_by_test_id("status")).to_contain_text("access_denied")
    assert page.url == demo.spa
    expect(page.locator("#sign-in-implicit")).to_be_visible()
    expect(page.locator("#calls")).to_be_hidden()


def test_swagger_ui_authorize(context: BrowserContext, demo: Demo) -> None:
    """Swagger UI's Authorize completes the implicit flow; Try it out -> Execute gets 200."""
    page = context.new_page()
    page.goto(demo.docs)
    page.click("button.authorize")
    client_id = page.locator("#client_id_implicit")
    if client_id.input_value() == "":
        client_id.fill("0oademospa0client0id")
    page.click(".scopes a[data-all='true']")  # "select all": openid, items:read, items:write
    for scope in ("openid", "items:read", "items:write"):
        expect(page.locator(f"input[data-value='{scope}']")).to_be_checked()
    modal = page.locator(".modal-ux-content")
    with page.expect_popup() as popup_info:
        page.click(".auth-btn-wrapper button.authorize")
    sign_in(popup_info.value, demo)  # a fresh browser profile: no session yet
    # The pop-up lands on /docs/oauth2-redirect, hands the token over and closes.
    expect(modal).to_contain_text("Authorized")
    wait_closed(popup_info.value, page)

    # Log out of Swagger UI and authorize again: the issuer's session answers
    # at once, so the pop-up closes without showing the form.
    modal.locator("button", has_text="Logout").click()
    expect(modal.locator(".auth-btn-wrapper button.authorize")).to_be_visible()
    with page.expect_popup() as again:
        page.click(".auth-btn-wrapper button.authorize")
    expect(modal).to_contain_text("Authorized")
    wait_closed(again.value, page)
    page.click(".auth-btn-wrapper .btn-done")

    def execute(operation: str) -> tuple[str, str]:
        block = page.locator(f"#operations-default-{operation}")
        block.locator(".opblock-summary").click()
        block.locator(".try-out__btn").click()
        block.locator(".execute").click()
        row = block.locator(".live-responses-table tbody tr.response").first
        expect(row).to_be_visible()
        status = row.locator(".response-col_status").inner_text().strip()
        return status, row.locator(".response-col_description").inner_text()

    status, body = execute("whoami_api_whoami_get")
    assert status == "200"
    assert '"sub": "alice@example.com"' in body
    assert '"items:write"' in body
    # The token holds items:write (all scopes were selected), so the write the SPA
    # is refused succeeds here, with Swagger UI's example body.
    status, body = execute("create_item_api_items_post")
    assert status == "201"
    assert '"owner": "alice@example.com"' in body
