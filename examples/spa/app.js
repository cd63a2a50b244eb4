// okta_bearer demo SPA: sign in by hand (no library, no build step) and call the API.
//
// Code + PKCE (RFC 7636, what RFC 9700 recommends for browser apps) is the default;
// the implicit flow of Okta's guide is one labelled click away.  Both:
// 1. send the browser to {issuer}/v1/authorize with a fresh `state` and `nonce`
//    (and for PKCE a code verifier), from crypto.getRandomValues, remembered in
//    sessionStorage for the round trip only;
// 2. back at the redirect URI, take the code or tokens out of the URL at once
//    (history.replaceState), check `state` and the ID token's `nonce`;
// 3. keep the access token in a variable (memory only: never in storage) and call the API.
//
// The DPoP option (RFC 9449) is code + PKCE with a sender-constrained token: at the
// token exchange the page makes a non-extractable ES256 key with WebCrypto, proves
// possession of it to /v1/token, and gets a token bound to it (token_type "DPoP").
// Every API call then carries `Authorization: DPoP <token>` and a fresh proof
// signed by that key: a stolen token alone is useless.  The key lives in memory only.
"use strict";

const PENDING_KEY = "okta_bearer_demo_pending"; // state/nonce/PKCE verifier, for one round trip
const FLOW_KEY = "okta_bearer_demo_flow"; // "code" or "implicit": the flow this tab uses
const SIGNED_OUT_KEY = "okta_bearer_demo_signed_out";
const SIGNED_IN_KEY = "okta_bearer_demo_signed_in"; // this tab signed in: a reload signs in again
const FLOW_NAMES = { code: "code + PKCE", implicit: "implicit", dpop: "code + PKCE with DPoP" };

let config = null;
let accessToken = null; // memory only: a reload signs in again (instantly, thanks to the session)
let tokenType = "Bearer"; // "DPoP" when the token is bound to dpopKey
let dpopKey = null; // { privateKey, jwk }: a non-extractable WebCrypto key pair, memory only

const $ = (selector) => document.querySelector(selector);
const byTestId = (testId) => $(`[data-testid="${testId}"]`);

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

function currentFlow() {
  const flow = sessionStorage.getItem(FLOW_KEY);
  return flow === "implicit" || flow === "dpop" ? flow : "code";
}

// -- DPoP (RFC 9449) -----------------------------------------------------------

function base64urlJson(value) {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

// An ES256 key pair whose private half cannot be exported, not even by this page.
async function newDPoPKey() {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

// A proof for one request (section 4.2): htm, htu (no query or fragment), a fresh
// jti, iat, and with a token its hash `ath`.  WebCrypto's ECDSA signature is
// already r||s, the JWS form.
async function dpopProof(method, url, token) {
  const target = new URL(url);
  const payload = {
    jti: randomString(16),
    htm: method,
    htu: `${target.origin}${target.pathname}`,
    iat: Math.floor(Date.now() / 1000),
  };
  if (token) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
    payload.ath = base64url(new Uint8Array(digest));
  }
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: dpopKey.jwk };
  const input = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    dpopKey.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

function setStatus(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

function showButtons(signedIn) {
  for (const button of document.querySelectorAll("[data-when]")) {
    button.hidden = (button.dataset.when === "signed-in") !== signedIn;
  }
  const other = currentFlow() === "implicit" ? "code" : "implicit";
  $("#switch-flow").textContent =
    other === "implicit"
      ? "Sign in with the implicit flow instead (Okta's guide)"
      : "Sign in with code + PKCE instead";
  $("#switch-flow").dataset.flow = other;
}

// -- sign-in -----------------------------------------------------------------

async function signIn(flow, extraScopes = []) {
  sessionStorage.setItem(FLOW_KEY, flow);
  sessionStorage.removeItem(SIGNED_OUT_KEY);
  const pending = { flow, state: randomString(), nonce: randomString() };
  const params = new URLSearchParams({
    client_id: config.clientId,
    scope: [...config.scopes.split(" "), ...extraScopes].join(" "),
    redirect_uri: redirectUri(),
    state: pending.state,
    nonce: pending.nonce,
  });
  if (flow === "code" || flow === "dpop") {
    pending.verifier = randomString(48);
    const digest = await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(pending.verifier),
    );
    params.set("response_type", "code");
    params.set("code_challenge", base64url(new Uint8Array(digest)));
    params.set("code_challenge_method", "S256");
  } else {
    params.set("response_type", "id_token token");
  }
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  location.assign(`${config.issuer}/v1/authorize?${params}`);
}

function signOut() {
  accessToken = null;
  sessionStorage.setItem(SIGNED_OUT_KEY, "1");
  sessionStorage.removeItem(SIGNED_IN_KEY);
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
    tokens = {
      access_token: params.get("access_token"),
      id_token: params.get("id_token"),
      token_type: params.get("token_type"),
    };
  } else {
    const tokenUrl = `${config.issuer}/v1/token`;
    const headers = { "Content-Type": "application/x-www-form-urlencoded" };
    if (pending.flow === "dpop") {
      dpopKey = await newDPoPKey();
      headers.DPoP = await dpopProof("POST", tokenUrl);
    }
    const response = await fetch(tokenUrl, {
      method: "POST",
      headers,
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
    if (pending.flow === "dpop" && tokens.token_type !== "DPoP") {
      throw new Error(`asked for a DPoP-bound token, got token_type ${tokens.token_type}`);
    }
  }
  tokenType = tokens.token_type === "DPoP" ? "DPoP" : "Bearer";
  sessionStorage.setItem(SIGNED_IN_KEY, "1");
  if (tokens.id_token) {
    const idClaims = jwtPayload(tokens.id_token);
    if (idClaims.nonce !== pending.nonce) throw new Error("nonce mismatch: ID token rejected");
    setStatus(`Signed in as ${idClaims.name || idClaims.sub} (${FLOW_NAMES[pending.flow]} flow).`);
  }
  return tokens.access_token;
}

// -- the token's claims ------------------------------------------------------------

const TIME_CLAIMS = new Set(["exp", "iat", "nbf", "auth_time"]);

function describeTime(seconds) {
  const when = new Date(seconds * 1000);
  const delta = Math.round(seconds - Date.now() / 1000);
  const minutes = Math.round(Math.abs(delta) / 60);
  const relative =
    Math.abs(delta) < 60 ? "now" : delta > 0 ? `in ${minutes} min` : `${minutes} min ago`;
  return `${when.toLocaleString()} (${relative})`;
}

// What the label says is what the token is: the issuer's token_type and the
// token's own binding (cnf.jkt, RFC 9449 section 6) must agree.
function showTokenType(token) {
  const cnf = jwtPayload(token).cnf;
  const jkt = cnf && typeof cnf.jkt === "string" ? cnf.jkt : null;
  byTestId("token-type").textContent = tokenType;
  let note;
  if (tokenType === "DPoP" && jkt) {
    note = `bound to a key this page holds (cnf.jkt ${jkt.slice(0, 12)}…); every call sends `
      + "Authorization: DPoP with a fresh signed proof, so the token alone is useless to a thief";
  } else if (jkt) {
    note = "the issuer called it a bearer token, but it is bound to a DPoP key (cnf.jkt)";
  } else {
    note = "a bearer token: sent as Authorization: Bearer; whoever holds it can use it";
  }
  byTestId("token-type-note").textContent = `(${note})`;
}

function showClaims(token) {
  const claims = jwtPayload(token);
  const rows = $("#claims-rows");
  rows.replaceChildren();
  for (const [name, value] of Object.entries(claims)) {
    const row = document.createElement("tr");
    const key = document.createElement("th");
    key.textContent = name;
    const cell = document.createElement("td");
    cell.dataset.claim = name;
    if (TIME_CLAIMS.has(name) && typeof value === "number") {
      cell.textContent = describeTime(value);
      cell.title = String(value);
    } else if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
      cell.textContent = value.join(" ");
    } else {
      cell.textContent = typeof value === "string" ? value : JSON.stringify(value);
    }
    row.append(key, cell);
    rows.append(row);
  }
  $("#token").hidden = false;
}

// -- calling the API -----------------------------------------------------------

// The payload is edited to claim items:write; the signature no longer matches.
function tamper(token) {
  const [header, , signature] = token.split(".");
  const claims = jwtPayload(token);
  claims.scp = [...(claims.scp || []), "items:write"];
  const payload = base64url(new TextEncoder().encode(JSON.stringify(claims)));
  return `${header}.${payload}.${signature}`;
}

const CALLS = {
  whoami: () => ({ path: "/api/whoami", token: accessToken }),
  forbidden: () => ({
    path: "/api/items",
    token: accessToken,
    options: {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "from the SPA" }),
    },
  }),
  tampered: () => ({ path: "/api/whoami", token: tamper(accessToken) }),
};

function verdictOf(status) {
  if (status >= 200 && status < 300) return ["allowed", "ok"];
  if (status === 403) return ["refused: valid token, missing scope", "denied"];
  if (status === 401) return ["refused: token not accepted", "denied"];
  return ["failed", "error"];
}

async function runCall(name) {
  const card = $(`#${name}`);
  const status = byTestId(`${name}-status`);
  card.setAttribute("aria-busy", "true");
  status.textContent = "…";
  status.className = "badge";
  const { path, token, options = {} } = CALLS[name]();
  const url = `${config.apiBase}${path}`;
  let response;
  try {
    const headers = { ...(options.headers || {}), Authorization: `${tokenType} ${token}` };
    if (tokenType === "DPoP") headers.DPoP = await dpopProof(options.method || "GET", url, token);
    response = await fetch(url, { ...options, headers });
  } catch (error) {
    status.textContent = "network error";
    status.className = "badge error";
    byTestId(`${name}-body`).textContent = String(error);
    card.removeAttribute("aria-busy");
    return;
  }
  const text = await response.text();
  let body = text;
  try {
    body = JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    // not JSON: show as is
  }
  const [verdict, kind] = verdictOf(response.status);
  status.textContent = `${response.status} ${response.statusText}`.trim();
  status.className = `badge ${kind}`;
  byTestId(`${name}-verdict`).textContent = verdict;
  const challenge = byTestId(`${name}-challenge`);
  if (challenge) challenge.textContent = response.headers.get("WWW-Authenticate") || "(none)";
  byTestId(`${name}-body`).textContent = body;
  const runs = byTestId(`${name}-runs`);
  runs.textContent = String(Number(runs.textContent || "0") + 1);
  card.removeAttribute("aria-busy");
}

async function runCalls() {
  $("#calls").hidden = false;
  for (const name of Object.keys(CALLS)) await runCall(name);
}

// -- start -----------------------------------------------------------------------

async function start() {
  $("#sign-in").addEventListener("click", () => signIn("code"));
  $("#sign-in-implicit").addEventListener("click", () => signIn("implicit"));
  $("#sign-in-dpop").addEventListener("click", () => signIn("dpop"));
  $("#switch-flow").addEventListener("click", (event) => signIn(event.target.dataset.flow));
  $("#sign-in-write").addEventListener("click", () => signIn(currentFlow(), ["items:write"]));
  $("#sign-out").addEventListener("click", signOut);
  for (const button of document.querySelectorAll("[data-rerun]")) {
    button.addEventListener("click", () => runCall(button.dataset.rerun));
  }
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
    showTokenType(accessToken);
    showClaims(accessToken);
    await runCalls();
    return;
  }
  if (sessionStorage.getItem(SIGNED_OUT_KEY)) {
    setStatus("Signed out.");
    showButtons(false);
    return;
  }
  if (sessionStorage.getItem(SIGNED_IN_KEY)) {
    // A reload of a signed-in tab: the token lived in memory only, so sign in
    // again (with the issuer's session still alive, it comes straight back).
    setStatus("Signing in again…");
    await signIn(currentFlow());
    return;
  }
  // A first visit: this page first, then the user chooses how to sign in.
  setStatus("Not signed in.");
  showButtons(false);
}

start().catch((error) => setStatus(`Unexpected error: ${error}`, true));
