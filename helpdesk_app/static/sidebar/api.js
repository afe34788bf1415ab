// The service's API as the sidebar uses it (docs/openapi.yaml), and the session behind it.
//
// The session token lives in this module's memory only: never in a URL, a cookie or storage
// (architecture.md, "A sidebar action"). It is renewed with POST /api/v1/session well before
// it expires; a 401 anywhere ends the session and the agent is told to reload the app.
// Errors are {"error": {"code", "message", ...}} (helpdesk_app/errors.py and create_app's
// handlers); every failure here becomes an ApiError the page can show as it is.

const RENEW_BEFORE_MS = 120000;   // renew two minutes before expiry...
const RENEW_FRACTION = 1 / 3;     // ...or a third of the lifetime before it, if sooner
const MIN_RENEW_DELAY_MS = 5000;
const RENEW_RETRY_MS = 15000;     // a failed renewal (network, 5xx) tries again
const FRESH_ENOUGH_MS = 20000;    // a request made closer to expiry renews first

export class ApiError extends Error {
  constructor({ status = 0, code, message, detail = {}, network = false, retryAfter = null }) {
    super(message);
    this.name = "ApiError";
    this.status = status;       // 0: no answer at all
    this.code = code;
    this.detail = detail;       // the error's other fields: field, action, upstream, request_id
    this.network = network;
    this.retryAfter = retryAfter;
  }

  get sessionEnded() {
    return this.status === 401;
  }

  // Worth trying again with the same request (and the same Idempotency-Key)?
  get retryable() {
    return this.network || this.status >= 500;
  }
}

const NETWORK_MESSAGE = "Could not reach the service. Check your connection and try again.";

function monotonicNow() {
  return performance.now();
}

// The token's own lifetime (exp - iat), measured from now on this page's clock: immune to
// the agent's wall clock being off. Falls back to expires_at against the wall clock.
function lifetimeMs(session) {
  try {
    const part = session.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    if (Number.isFinite(claims.exp) && Number.isFinite(claims.iat) && claims.exp > claims.iat) {
      return (claims.exp - claims.iat) * 1000;
    }
  } catch {
    // not a JWT we can read: use expires_at
  }
  const expires = Date.parse(session.expires_at);
  return Number.isFinite(expires) ? Math.max(0, expires - Date.now()) : 0;
}

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("application/json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function errorOf(response, body) {
  const error = body && typeof body.error === "object" && body.error ? body.error : null;
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  if (error && typeof error.code === "string" && typeof error.message === "string") {
    const { code, message, ...detail } = error;
    return new ApiError({ status: response.status, code, message, detail,
                          retryAfter: Number.isFinite(retryAfter) ? retryAfter : null });
  }
  return new ApiError({ status: response.status, code: `http_${response.status}`,
                        message: `The service answered HTTP ${response.status} without details.`,
                        retryAfter: Number.isFinite(retryAfter) ? retryAfter : null });
}

// createSession(initial, {onEnded}) -> {request, renew, end, get ended}
//   initial: {token, expires_at} from the page's data block
//   onEnded(error): called once, when the service refuses the session (401)
export function createSession(initial, { onEnded = () => {} } = {}) {
  let token = initial.token;
  let deadline = 0;
  let timer = 0;
  let renewing = null;
  let ended = false;

  function adopt(session) {
    token = session.token;
    const lifetime = lifetimeMs(session);
    deadline = monotonicNow() + lifetime;
    clearTimeout(timer);
    const lead = Math.min(RENEW_BEFORE_MS, lifetime * RENEW_FRACTION);
    timer = setTimeout(renewQuietly, Math.max(MIN_RENEW_DELAY_MS, lifetime - lead));
  }

  function end(error) {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    token = null;
    onEnded(error);
  }

  async function send(method, path, { body, headers = {} } = {}) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          Accept: "application/json",
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
      });
    } catch {
      throw new ApiError({ code: "network_error", message: NETWORK_MESSAGE, network: true });
    }
    const data = await readJson(response);
    if (response.ok) return { data, response };
    const error = errorOf(response, data);
    if (error.sessionEnded) end(error);
    throw error;
  }

  function renew() {
    if (ended) return Promise.reject(sessionEndedError());
    if (!renewing) {
      renewing = send("POST", "/api/v1/session")
        .then(({ data }) => adopt(data))
        .finally(() => { renewing = null; });
    }
    return renewing;
  }

  function renewQuietly() {
    renew().catch((error) => {
      // Refused: end() already told the page. Unreachable: try again while time is left.
      if (!ended && error.retryable && deadline - monotonicNow() > RENEW_RETRY_MS) {
        clearTimeout(timer);
        timer = setTimeout(renewQuietly, RENEW_RETRY_MS);
      }
    });
  }

  async function request(method, path, options) {
    if (ended) throw sessionEndedError();
    if (deadline - monotonicNow() < FRESH_ENOUGH_MS) {
      // A timer can sleep with a background tab; renew now, or let the service decide.
      await renew().catch((error) => { if (ended) throw error; });
    }
    return send(method, path, options);
  }

  // A tab brought back to the front may have slept through its renewal.
  document.addEventListener("visibilitychange", () => {
    if (!ended && document.visibilityState === "visible"
        && deadline - monotonicNow() < RENEW_BEFORE_MS) {
      renewQuietly();
    }
  });

  adopt(initial);
  return {
    request,
    renew,
    get ended() { return ended; },
  };
}

function sessionEndedError() {
  return new ApiError({ status: 401, code: "session_ended",
                        message: "The session has ended." });
}

// -- the calls ---------------------------------------------------------------------------

export function ticketContext(session, ticketId) {
  return session.request("GET", `/api/v1/tickets/${encodeURIComponent(ticketId)}`)
    .then(({ data }) => data);
}

// A ticket triage never read: the service reads and diagnoses it now (read only: no note, no
// tag, nothing written to Zendesk) and answers its findings.
export function readFindings(session, ticketId) {
  return session.request("POST", `/api/v1/tickets/${encodeURIComponent(ticketId)}/findings`)
    .then(({ data }) => data);
}

export function plan(session, body) {
  return session.request("POST", "/api/v1/plans", { body }).then(({ data }) => data);
}

// -> {run, replayed}: `replayed` when the key had already recorded this run.
export function startRun(session, body, idempotencyKey) {
  return session.request("POST", "/api/v1/runs", {
    body, headers: { "Idempotency-Key": idempotencyKey },
  }).then(({ data, response }) => ({
    run: data,
    replayed: response.headers.get("Idempotent-Replayed") === "true",
  }));
}

export function getRun(session, runId) {
  return session.request("GET", `/api/v1/runs/${encodeURIComponent(runId)}`)
    .then(({ data }) => data);
}

const RUN_WAIT_S = 25;          // the service waits at most this long (run_watch.MAX_WAIT_S)
const RUN_BUSY_PAUSE_MS = 1000; // an unchanged answer at once: a busy service; ask later

// waitForRun(session, run) -> the run once it has moved on from `run` (a new state, event
// or report), or `run` as it still is after RUN_WAIT_S: call it again until the run is
// reported. A long poll (GET /api/v1/runs/<id>?wait=&seen=<version>): the service answers
// as soon as the run changes, so a run is shown done when it is, not at the next poll.
export async function waitForRun(session, run) {
  const path = `/api/v1/runs/${encodeURIComponent(run.id)}`
    + `?wait=${RUN_WAIT_S}&seen=${encodeURIComponent(run.version)}`;
  const asked = monotonicNow();
  const { data } = await session.request("GET", path);
  if (data.version === run.version && monotonicNow() - asked < RUN_BUSY_PAUSE_MS) {
    await new Promise((resolve) => setTimeout(resolve, RUN_BUSY_PAUSE_MS));
  }
  return data;
}

// One fresh key per confirmation (the service's grammar: 8-200 of [A-Za-z0-9_.:-]).
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
