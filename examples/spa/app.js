// okta_bearer demo SPA: the seed's implicit flow, by hand, with no library and no build step.
//
// 1. Send the browser to {issuer}/v1/authorize with a fresh `state` and `nonce`
//    (from crypto.getRandomValues), remembered in sessionStorage for the round trip.
// 2. Back at the redirect URI, read the tokens from the URL fragment, remove the
//    fragment at once (history.replaceState), and check `state` and the ID token's `nonce`.
// 3. Keep the access token in a variable (memory only: never localStorage), and call the API.
"use strict";

const PENDING_KEY = "okta_bearer_demo_pending"; // state/nonce/PKCE verifier, for one round trip
const SIGNED_OUT_KEY = "okta_bearer_demo_signed_out";

let config = null;
let accessToken = null; // memory only: a reload signs in again (instantly, thanks to the session)

const $ = (selector) => document.querySelector(selector);

function show(testId, text) {
  $(`[data-testid="${testId}"]`).textContent = text;
}

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function randomString(byteCount = 32) {
  const bytes = new Uint8Array(byteCount);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

// Reads a JWT payload WITHOUT verifying it: fine for display and for the nonce
// check; the API verifies the access token, which is what counts.
function jwtPayload(token) {
  return JSON.parse(new TextDecoder().decode(fromBase64url(token.split(".")[1])));
}

function redirectUri() {
  return `${location.origin}/`;
}

function setStatus(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function showButtons(signedIn) {
  $("#sign-in-implicit").hidden = signedIn;
  $("#sign-in-pkce").hidden = signedIn;
  $("#sign-out").hidden = !signedIn;
}

// -- sign-in -----------------------------------------------------------------

function signInImplicit() {
  const pending = { flow: "implicit", state: randomString(), nonce: randomString() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const params = new URLSearchParams({
    client_id: config.clientId,
    response_type: "id_token token",
    scope: config.scopes,
    redirect_uri: redirectUri(),
    state: pending.state,
    nonce: pending.nonce,
  });
  location.assign(`${config.issuer}/v1/authorize?${params}`);
}

async function signInPkce() {
  const verifier = randomString(48);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const pending = { flow: "code", state: randomString(), nonce: randomString(), verifier };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const params = new URLSearchParams({
    client_id: config.clientId,
    response_type: "code",
    scope: config.scopes,
    redirect_uri: redirectUri(),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  });
  location.assign(`${config.issuer}/v1/authorize?${params}`);
}

function signOut() {
  accessToken = null;
  sessionStorage.setItem(SIGNED_OUT_KEY, "1");
  const params = new URLSearchParams({ post_logout_redirect_uri: redirectUri() });
  location.assign(`${config.issuer}/v1/logout?${params}`);
}

function takePending() {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  return raw ? JSON.parse(raw) : null;
}

// Returns the access token from the current URL, or null; throws on a failed or forged response.
async function readCallback() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const fromFragment = fragment.has("access_token") || fragment.has("error");
  const fromQuery = query.has("code") || query.has("error");
  if (!fromFragment && !fromQuery) return null;
  const params = fromFragment ? fragment : query;
  // The URL holds a token or a code: take it out of the address bar and history now.
  history.replaceState(null, "", location.pathname);
  const pending = takePending();
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("state mismatch: this response was not requested by this tab; ignored");
  }
  if (params.has("error")) {
    throw new Error(`${params.get("error")}: ${params.get("error_description") || ""}`);
  }
  let tokens;
  if (fromFragment) {
    tokens = { access_token: params.get("access_token"), id_token: params.get("id_token") };
  } else {
    const response = await fetch(`${config.issuer}/v1/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code"),
        redirect_uri: redirectUri(),
        client_id: config.clientId,
        code_verifier: pending.verifier,
      }),
    });
    tokens = await response.json();
    if (!response.ok) throw new Error(`${tokens.error}: ${tokens.error_description || ""}`);
  }
  if (tokens.id_token) {
    const idClaims = jwtPayload(tokens.id_token);
    if (idClaims.nonce !== pending.nonce) throw new Error("nonce mismatch: ID token rejected");
    setStatus(`Signed in as ${idClaims.name || idClaims.sub} (${pending.flow} flow).`);
  }
  return tokens.access_token;
}

// -- calling the API -----------------------------------------------------------

async function callApi(path, token, options = {}) {
  const response = await fetch(`${config.apiBase}${path}`, {
    ...options,
    headers: { ...(options.headers || {}), Authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  let body = text;
  try {
    body = JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    // not JSON: show as is
  }
  return {
    status: `${response.status} ${response.statusText}`.trim(),
    challenge: response.headers.get("WWW-Authenticate") || "(none)",
    body,
  };
}

// The payload is edited to claim items:write; the signature no longer matches.
function tamper(token) {
  const [header, , signature] = token.split(".");
  const claims = jwtPayload(token);
  claims.scp = [...(claims.scp || []), "items:write"];
  const payload = base64url(new TextEncoder().encode(JSON.stringify(claims)));
  return `${header}.${payload}.${signature}`;
}

async function runCalls() {
  $("#calls").hidden = false;
  const whoami = await callApi("/api/whoami", accessToken);
  show("whoami-status", whoami.status);
  show("whoami-body", whoami.body);

  const forbidden = await callApi("/api/items", accessToken, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: "from the SPA" }),
  });
  show("forbidden-status", forbidden.status);
  show("forbidden-challenge", forbidden.challenge);
  show("forbidden-body", forbidden.body);

  const tampered = await callApi("/api/whoami", tamper(accessToken));
  show("tampered-status", tampered.status);
  show("tampered-challenge", tampered.challenge);
  show("tampered-body", tampered.body);
}

// -- start -----------------------------------------------------------------------

async function start() {
  $("#sign-in-implicit").addEventListener("click", signInImplicit);
  $("#sign-in-pkce").addEventListener("click", signInPkce);
  $("#sign-out").addEventListener("click", signOut);
  config = await (await fetch("/config.json")).json();
  try {
    accessToken = await readCallback();
  } catch (error) {
    setStatus(String(error.message || error), true);
    showButtons(false);
    return;
  }
  if (accessToken) {
    if ($("#status").textContent === "Loading…") setStatus("Signed in.");
    showButtons(true);
    await runCalls();
    return;
  }
  if (sessionStorage.getItem(SIGNED_OUT_KEY)) {
    sessionStorage.removeItem(SIGNED_OUT_KEY);
    setStatus("Signed out.");
    showButtons(false);
    return;
  }
  // No session in this tab yet: go to the sign-in page, as the seed describes.
  setStatus("Redirecting to the sign-in page…");
  signInImplicit();
}

start().catch((error) => setStatus(`Unexpected error: ${error}`, true));
