// Where the sidebar runs, and what the host tells it: the ticket id, and room to grow.
//
// Inside Zendesk the page is framed by the agent's Zendesk with `origin` and `app_guid` in
// its URL, and Zendesk's ZAF SDK (a <script> of the page) gives window.ZAFClient:
//   ZAFClient.init() -> a client, or false without origin/app_guid
//   client.get('ticket.id') -> Promise<{'ticket.id': 123}>
//   client.invoke('resize', {width, height})
// https://developer.zendesk.com/documentation/apps/app-developer-guide/using-the-apps-framework/
// Outside Zendesk (a local page framing the sidebar, or a test) the ticket id comes from the
// page's data block, which POST /sidebar fills from its optional `ticket_id`.

const ZAF_TIMEOUT_MS = 10000;

function zafParams() {
  // ZAF reads these from the query string (or, with the hashParams option, the fragment).
  const query = new URLSearchParams(window.location.search);
  const hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  return {
    origin: query.get("origin") || hash.get("origin"),
    appGuid: query.get("app_guid") || hash.get("app_guid"),
  };
}

function framed() {
  try {
    return window.self !== window.top;
  } catch {
    return true; // a cross-origin parent cannot even be compared: framed
  }
}

export function inZendesk() {
  const { origin, appGuid } = zafParams();
  return Boolean(window.ZAFClient && typeof window.ZAFClient.init === "function"
    && framed() && origin && appGuid);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer in time`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function positiveId(value) {
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !/^[1-9][0-9]{0,18}$/.test(text.trim())) return null;
  return text.trim();
}

// A host: {kind: 'zendesk' | 'page', ticketId(): Promise<string|null>, fit(element)}.
// Ticket ids stay strings (they are 64-bit; JSON numbers past 2^53 would lose digits).
export function detectHost(data) {
  if (inZendesk()) {
    const client = window.ZAFClient.init();
    if (client) return zendeskHost(client, data);
  }
  return pageHost(data);
}

function pageHost(data) {
  return {
    kind: "page",
    async ticketId() {
      return positiveId(data.ticket_id);
    },
    fit() {},
  };
}

function zendeskHost(client, data) {
  let frame = 0;
  let lastHeight = 0;
  return {
    kind: "zendesk",
    async ticketId() {
      const answer = await withTimeout(client.get("ticket.id"), ZAF_TIMEOUT_MS, "Zendesk");
      return positiveId(answer && answer["ticket.id"]) || positiveId(data.ticket_id);
    },
    // Tell Zendesk the height the page needs, whenever it changes (one call per frame).
    fit(element) {
      const resize = () => {
        frame = 0;
        const height = Math.ceil(element.getBoundingClientRect().height);
        if (height === lastHeight) return;
        lastHeight = height;
        client.invoke("resize", { width: "100%", height: `${height}px` });
      };
      const observer = new ResizeObserver(() => {
        if (!frame) frame = window.requestAnimationFrame(resize);
      });
      observer.observe(element);
      resize();
    },
  };
}
