"""The demo's journeys in a real headless Chromium against `okta-bearer demo`.

SPA: open it on its own page, click to go to the sign-in page (code + PKCE), sign in, see the
API's 200 with the token's claims, the 403 for a scope the SPA lacks and the
401 for a tampered token; sign in again asking for items:write and see the 403
become 201.  The implicit flow of Okta's guide, one click away, brings the token back in
the fragment, which the page removes.  Then the API through Swagger UI at /docs.
Each step is kept as a screenshot (see ``shots`` in conftest.py).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, Request, Response, expect

from .conftest import Shots
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


def open_spa(page: Page, demo: Demo) -> None:
    """Open the SPA: its own page first, not signed in; then click the default sign-in."""
    page.goto(demo.spa)
    expect(page.get_by_test_id("status")).to_have_text("Not signed in.")
    expect(page.get_by_test_id("welcome")).to_be_visible()
    assert page.url == demo.spa  # no redirect before the user asks for one
    page.click("#sign-in")


def expect_no_clipping(page: Page) -> None:
    """Every JSON view and claim cell fits its box: long values wrap, nothing scrolls sideways."""
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll("pre, table.claims td")]
            .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
            .map((e) => e.dataset.testid || e.dataset.claim)"""
    )
    assert overflowing == []


def expect_results(page: Page, *, write: int = 403) -> None:
    """The SPA shows 200 with claims, ``write`` (403 or 201) for the POST, and 401 tampered."""
    expect(page.get_by_test_id("whoami-status")).to_have_text("200 OK")
    expect(page.get_by_test_id("whoami-status")).to_have_class(re.compile(r"\bok\b"))
    expect(page.get_by_test_id("whoami-verdict")).to_have_text("allowed")
    body = page.get_by_test_id("whoami-body")
    expect(body).to_contain_text('"sub": "alice@example.com"')
    expect(body).to_contain_text('"items:read"')
    forbidden = page.get_by_test_id("forbidden-status")
    if write == 201:
        expect(forbidden).to_have_text("201 Created")
        expect(forbidden).to_have_class(re.compile(r"\bok\b"))
        expect(page.get_by_test_id("forbidden-body")).to_contain_text(
            '"owner": "alice@example.com"'
        )
    else:
        expect(forbidden).to_have_text("403 Forbidden")
        expect(forbidden).to_have_class(re.compile(r"\bdenied\b"))
        expect(page.get_by_test_id("forbidden-verdict")).to_contain_text("missing scope")
        challenge = page.get_by_test_id("forbidden-challenge")
        expect(challenge).to_contain_text('error="insufficient_scope"')
        expect(challenge).to_contain_text('scope="items:write"')
    expect(page.get_by_test_id("tampered-status")).to_have_text("401 Unauthorized")
    expect(page.get_by_test_id("tampered-status")).to_have_class(re.compile(r"\bdenied\b"))
    expect(page.get_by_test_id("tampered-challenge")).to_contain_text('error="invalid_token"')


def test_pkce_journey_403_then_201(context: BrowserContext, demo: Demo, shots: Shots) -> None:
    """Code + PKCE by default; 403 on the write, then signing in with items:write makes it 201."""
    page = context.new_page()
    page.goto(demo.spa)
    # The SPA opens on its own page; nothing is sent anywhere until the user clicks.
    expect(page.get_by_test_id("status")).to_have_text("Not signed in.")
    expect(page.get_by_test_id("welcome")).to_be_visible()
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.url == demo.spa
    shots(page, "spa-home")
    page.click("#sign-in")
    # Sent to the sign-in page with code + PKCE, the default.
    expect(page).to_have_url(re.compile(re.escape(demo.issuer + "/v1/authorize?")))
    assert "response_type=code" in page.url
    assert "code_challenge_method=S256" in page.url
    assert re.search(r"[?&]state=[\w-]{40,}", page.url)
    # The dev sign-in page shows the demo's credentials.
    expect(page.locator("#credentials")).to_contain_text(f"{demo.user} / {demo.password}")
    shots(page, "sign-in-page")
    sign_in(page, demo, password="not-the-password")
    expect(page.locator("#error")).to_contain_text("wrong username or password")
    shots(page, "wrong-password")
    sign_in(page, demo)

    expect_results(page)
    expect(page.get_by_test_id("status")).to_have_text("Signed in as Alice (code + PKCE flow).")
    assert page.url == demo.spa  # the code was taken out of the address bar
    # The whole claims view, with times as dates.
    claims = page.get_by_test_id("claims")
    for name in ("iss", "sub", "aud", "exp", "iat", "cid", "uid", "scp", "auth_time"):
        expect(claims.locator(f"td[data-claim='{name}']")).to_have_count(1)
    expect(claims.locator("td[data-claim='exp']")).to_contain_text("(in 60 min)")
    expect(claims.locator("td[data-claim='iat']")).to_contain_text("(now)")
    # The label says what the token is: a bearer token, sent as Bearer.
    expect(page.get_by_test_id("token-type")).to_have_text("Bearer")
    expect(page.get_by_test_id("token-type-note")).to_contain_text("a bearer token")
    expect(page.get_by_test_id("token-type-note")).not_to_contain_text("DPoP")
    shots(page, "signed-in-403")
    # On a phone-sized screen the JSON views and claims wrap instead of clipping.
    page.set_viewport_size({"width": 400, "height": 800})
    expect_no_clipping(page)
    shots(page, "narrow-wraps")
    page.set_viewport_size({"width": 1280, "height": 720})

    # Re-run one call: a new request, the same answer.
    with page.expect_response(lambda r: r.url.endswith("/api/whoami")):
        page.get_by_role("button", name="Run again").first.click()
    expect(page.get_by_test_id("whoami-runs")).to_have_text("2")
    expect(page.get_by_test_id("whoami-status")).to_have_text("200 OK")

    # Sign in again asking for items:write: the issuer's session answers at once.
    page.click("#sign-in-write")
    expect(page.get_by_test_id("forbidden-status")).to_have_text("201 Created")
    expect_results(page, write=201)
    expect(page.get_by_test_id("claims").locator("td[data-claim='scp']")).to_contain_text(
        "items:write"
    )
    shots(page, "items-write-201")
    stored = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert "eyJ" not in stored


def test_implicit_flow_one_click_away(context: BrowserContext, demo: Demo, shots: Shots) -> None:
    """Signed out, Okta's implicit flow is one labelled click; the page removes the fragment."""
    page = context.new_page()
    main_urls: list[str] = []
    page.on("framenavigated", lambda frame: main_urls.append(frame.url))
    logins: list[Response] = []
    page.on("response", lambda r: logins.append(r) if r.url.endswith("/v1/login") else None)
    open_spa(page, demo)
    sign_in(page, demo)
    expect(page.get_by_test_id("whoami-status")).to_have_text("200 OK")
    page.click("#sign-out")
    expect(page.get_by_test_id("status")).to_have_text("Signed out.")
    shots(page, "signed-out")

    implicit = page.get_by_role("button", name="Sign in with the implicit flow (Okta's guide)")
    implicit.click()
    expect(page).to_have_url(re.compile(r"response_type=id_token(\+|%20)token"))
    assert re.search(r"[?&]nonce=[\w-]{40,}", page.url)
    sign_in(page, demo)  # the session ended, so the form is shown again
    expect_results(page)
    expect(page.get_by_test_id("status")).to_have_text("Signed in as Alice (implicit flow).")
    expect(page.get_by_test_id("token-type")).to_have_text("Bearer")
    shots(page, "implicit-signed-in")
    # The browser came back with the token in the fragment, and the page removed it.
    location = logins[-1].headers["location"]
    assert location.startswith(demo.spa + "#access_token=")
    assert "&token_type=Bearer&expires_in=3600&scope=" in location
    assert any(url.startswith(demo.spa + "#access_token=") for url in main_urls)
    assert page.url == demo.spa
    assert page.evaluate("location.hash") == ""

    # A reload signs in again through the session, in the same flow: no form.
    logins.clear()
    page.reload()
    expect_results(page)
    expect(page.get_by_test_id("status")).to_have_text("Signed in as Alice (implicit flow).")
    assert logins == []


def test_spa_shows_access_denied(context: BrowserContext, demo: Demo, shots: Shots) -> None:
    """Cancelling the sign-in brings the SPA back with access_denied, shown, with no loop."""
    page = context.new_page()
    open_spa(page, demo)
    expect(page.locator("#cancel")).to_be_visible()
    page.click("#cancel")
    expect(page.get_by_test_id("status")).to_contain_text("access_denied")
    assert page.url == demo.spa
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#sign-in-implicit")).to_be_visible()
    expect(page.locator("#calls")).to_be_hidden()
    shots(page, "access-denied")


def test_swagger_ui_authorize(context: BrowserContext, demo: Demo, shots: Shots) -> None:
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
    # The dialog lists the OAuth2 scheme and, since the API allows DPoP, the DPoP
    # token and proof as two header fields, which Swagger UI supports.
    expect(modal).to_contain_text("DPoPProof")
    expect(modal).to_contain_text("RFC 9449")
    expect(modal).not_to_contain_text("unsupported scheme")
    expect(modal).not_to_contain_text("Unknown security definition")
    shots(page, "swagger-authorize-dialog")
    authorize = modal.get_by_role("button", name="Apply given OAuth2 credentials")
    with page.expect_popup() as popup_info:
        authorize.click()
    sign_in(popup_info.value, demo)  # a fresh browser profile: no session yet
    # The pop-up lands on /docs/oauth2-redirect, hands the token over and closes.
    expect(modal).to_contain_text("Authorized")
    wait_closed(popup_info.value, page)

    # Log out of Swagger UI and authorize again: the issuer's session answers
    # at once, so the pop-up closes without showing the form.
    modal.locator("button", has_text="Logout").click()
    expect(authorize).to_be_visible()
    with page.expect_popup() as again:
        authorize.click()
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
    shots(page, "swagger-whoami")
    assert status == "200"
    assert '"sub": "alice@example.com"' in body
    assert '"items:write"' in body
    # The token holds items:write (all scopes were selected), so the write the SPA
    # is refused succeeds here, with Swagger UI's example body.
    status, body = execute("create_item_api_items_post")
    assert status == "201"
    assert '"owner": "alice@example.com"' in body
    shots(page, "swagger-create-item")


def test_dpop_option_gets_a_bound_token_and_a_200(
    context: BrowserContext, demo: Demo, shots: Shots
) -> None:
    """The labelled DPoP option: a WebCrypto key, token_type DPoP, and the API answers 200."""
    page = context.new_page()
    open_spa(page, demo)
    sign_in(page, demo)
    expect(page.get_by_test_id("whoami-status")).to_have_text("200 OK")
    page.click("#sign-out")
    expect(page.get_by_test_id("status")).to_have_text("Signed out.")

    tokens: list[Response] = []
    page.on("response", lambda r: tokens.append(r) if r.url.endswith("/v1/token") else None)
    calls: list[Request] = []
    page.on("request", lambda r: calls.append(r) if r.url.endswith("/api/whoami") else None)
    page.get_by_role("button", name=re.compile(r"^Sign in with DPoP")).click()
    expect(page).to_have_url(re.compile(r"response_type=code"))
    sign_in(page, demo)
    expect(page.get_by_test_id("status")).to_have_text(
        "Signed in as Alice (code + PKCE with DPoP flow)."
    )
    expect(page.get_by_test_id("token-type")).to_have_text("DPoP")
    expect(page.get_by_test_id("token-type-note")).to_contain_text("bound to a key this page holds")
    expect(page.get_by_test_id("token-type-note")).to_contain_text("signed proof")
    expect_results(page)
    # The token is bound to the page's key: cnf.jkt is shown with the claims.
    expect(page.get_by_test_id("claims").locator("td[data-claim='cnf']")).to_contain_text("jkt")
    shots(page, "dpop-signed-in")

    # What went over the wire: a proof to /v1/token, token_type DPoP, and DPoP to the API.
    [exchange] = [r for r in tokens if r.request.method == "POST"]
    assert exchange.request.headers["dpop"].count(".") == 2
    assert exchange.json()["token_type"] == "DPoP"
    whoami = [r for r in calls if r.method == "GET"][-1]
    assert whoami.headers["authorization"].startswith("DPoP ")
    assert whoami.headers["dpop"].count(".") == 2
    # The private key never left WebCrypto: it is not extractable.
    assert page.evaluate("dpopKey.privateKey.extractable") is False
