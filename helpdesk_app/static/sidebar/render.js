// DOM building for the sidebar. Every piece of text goes in as a Text node or textContent:
// ticket-derived text (triage findings, check messages, upstream errors) is data, never
// markup. Links take http(s) URLs only. Nothing here talks to the network.

export const WORKFLOW_LABELS = {
  associate: "Associate",
  force_associate: "Force associate",
  clear_subscription: "Clear subscription",
  unlink_account: "Unlink account",
  link_account: "Link account",
  diagnose: "Diagnose",
  escalate: "Escalate",
};

export const VERDICT_LABELS = {
  pass: "Pass",
  info: "Info",
  warn: "Warning",
  override: "Needs override",
  block: "Blocks",
  skipped: "Skipped",
};

export const DECISION_TEXT = {
  ready: "Ready: every check allows this change.",
  needs_override: "Needs override: confirm with a written reason to proceed.",
  blocked: "Blocked: this change cannot run.",
  noop: "Nothing to do: the target state already holds.",
};

export const RUN_STATE_TEXT = {
  queued: "Queued: waiting for a worker…",
  running: "Running…",
  succeeded: "Succeeded",
  failed: "Failed",
  superseded: "Superseded: nothing was changed",
  escalated: "Failed and escalated to the engineers",
};

// h('p', {class: 'x', dataset: {testid: 'y'}}, 'text', child) -> element
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on/i.test(key) || key === "href" || key === "src" || key === "style") {
      throw new Error(`h() does not set ${key}; use link() for URLs`);
    }
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// An http(s) URL as a string, or null: never javascript:, data: or anything else.
export function safeUrl(value) {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

// A link that opens outside the sidebar; plain text when the URL is not http(s).
export function link(url, text, props = {}) {
  const href = safeUrl(url);
  if (!href) return h("span", props, text);
  const anchor = h("a", { ...props, target: "_blank", rel: "noopener noreferrer" }, text,
                   h("span", { class: "lnr-visually-hidden" }, " (opens in a new tab)"));
  anchor.href = href;
  return anchor;
}

// Any JSON value as one line of text.
export function describe(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(describe).join(", ");
  return Object.entries(value).map(([k, v]) => `${k}: ${describe(v)}`).join("; ");
}

export function formatTime(iso) {
  if (typeof iso !== "string") return "";
  const moment = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(moment.getTime())) return iso;
  return moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function workflowLabel(name) {
  return WORKFLOW_LABELS[name] || String(name);
}

function definitionList(pairs, props = {}) {
  const rows = pairs.filter(([, value]) => value !== undefined && value !== null && value !== "");
  if (!rows.length) return null;
  return h("dl", { class: "lnr-dl", ...props },
           rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function asList(value) {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined && v !== "");
  if (value === null || value === undefined || value === "") return [];
  return [value];
}

// -- triage -----------------------------------------------------------------------------

// Triage's findings as the context carries them: `triage` (subscriptions, namespaces,
// category, recommended) when present, else the stored `findings`; either may be absent.
export function triageOf(context) {
  const source = [context && context.triage, context && context.findings]
    .find((value) => value && typeof value === "object" && !Array.isArray(value));
  if (!source) return null;
  const recommended = asList(source.recommended).map((item) => (
    typeof item === "string"
      ? { workflow: item }
      : item && typeof item === "object"
        ? { workflow: item.recommended ?? item.workflow ?? null, reason: item.reason ?? null,
            subscription: item.subscription ?? null, namespace: item.namespace ?? null }
        : { workflow: null, reason: describe(item) }
  ));
  return {
    category: typeof source.category === "string" ? source.category : null,
    confidence: Number.isFinite(source.confidence) ? source.confidence : null,
    subscriptions: asList(source.subscriptions).map(String),
    namespaces: asList(source.namespaces).map(String),
    recommended,
    updatedAt: source.updated_at ?? null,
  };
}

export function renderTriage(container, triage) {
  if (!triage) {
    return replaceChildren(container, h("h3", {}, "Triage"),
                           h("p", { class: "lnr-muted" }, "No triage findings for this ticket yet."));
  }
  const confidence = triage.confidence === null ? null
    : ` (confidence ${Math.round(triage.confidence * 100)}%)`;
  const recommendations = triage.recommended.length
    ? h("ul", { class: "lnr-list", dataset: { testid: "triage-recommended" } },
        triage.recommended.map((r) => h("li", {},
          r.workflow ? h("strong", {}, workflowLabel(r.workflow)) : "No workflow",
          r.subscription || r.namespace
            ? ` for ${[r.subscription, r.namespace].filter(Boolean).join(" → ")}` : "",
          r.reason ? h("span", { class: "lnr-block" }, r.reason) : null)))
    : null;
  return replaceChildren(container, h("h3", {}, "Triage"), definitionList([
    ["Category", triage.category ? [triage.category, confidence] : null],
    ["Subscriptions", triage.subscriptions.length ? triage.subscriptions.join(", ") : null],
    ["Namespaces", triage.namespaces.length ? triage.namespaces.join(", ") : null],
    ["Recommended", recommendations],
    ["Updated", triage.updatedAt ? formatTime(triage.updatedAt) : null],
  ], { dataset: { testid: "triage-findings" } })
    || h("p", { class: "lnr-muted" }, "Triage found nothing to act on."));
}

// -- earlier runs and escalations -------------------------------------------------------

const RUNS_SHOWN = 5;

function inputsSummary(inputs) {
  if (!inputs || typeof inputs !== "object") return "";
  const subs = asList(inputs.subscriptions ?? inputs.subscription);
  const namespaces = asList(inputs.namespaces ?? inputs.namespace);
  const customer = inputs.customer_id ?? inputs.customer;
  return [subs.join(", "), namespaces.join(", "), customer ? `customer ${customer}` : ""]
    .filter(Boolean).join(" → ");
}

export function renderRuns(container, runs) {
  const list = Array.isArray(runs) ? runs : [];
  if (!list.length) {
    return replaceChildren(container, h("h3", {}, "Earlier runs"),
                           h("p", { class: "lnr-muted" }, "No runs on this ticket yet."));
  }
  const shown = list.slice(0, RUNS_SHOWN);
  return replaceChildren(container, h("h3", {}, "Earlier runs"),
    h("ul", { class: "lnr-list" }, shown.map((run) => h("li", {
      dataset: { testid: "earlier-run", runId: String(run.id), state: String(run.state) },
    },
    h("strong", {}, `#${run.id} ${workflowLabel(run.workflow)}`), ` — ${run.state}`,
    h("span", { class: "lnr-block lnr-muted" },
      [inputsSummary(run.inputs), formatTime(run.created_at)].filter(Boolean).join(" · "))))),
    list.length > shown.length
      ? h("p", { class: "lnr-muted" }, `and ${list.length - shown.length} older`) : null);
}

export function renderEscalations(container, escalations) {
  const open = (Array.isArray(escalations) ? escalations : []).filter((e) => e.state === "open");
  if (!open.length) {
    return replaceChildren(container, h("h3", {}, "Open escalations"),
                           h("p", { class: "lnr-muted" }, "None."));
  }
  return replaceChildren(container, h("h3", {}, "Open escalations"),
    h("ul", { class: "lnr-list" }, open.map((e) => h("li", {
      dataset: { testid: "open-escalation", escalationId: String(e.id) },
    },
    link(e.issue_url, e.issue_iid ? `Issue #${e.issue_iid}` : "Escalation issue"),
    ` — ${workflowLabel(e.workflow)}, opened ${formatTime(e.created_at)}`))));
}

// -- a plan -----------------------------------------------------------------------------

function changeText(change) {
  if (!change || typeof change !== "object") return null;
  switch (change.action) {
    case "link_subscription":
      return `Link ${change.subscription} to namespace ${change.namespace_id}`
        + (change.force ? " (force)." : ".");
    case "unlink_subscription":
      return `Unlink ${change.subscription} from its namespace: the namespace goes back to Free.`;
    case "unlink_customer":
      return `Remove the GitLab.com account link of portal customer ${change.customer_id}.`;
    default:
      return describe(change);
  }
}

export function checkRow(check, testid = "check") {
  const verdict = String(check.verdict);
  return h("li", {
    class: `lnr-check lnr-verdict-${verdict.replace(/[^a-z_]/g, "")}`,
    dataset: { testid, checkId: String(check.id), verdict },
  },
  h("span", { class: "lnr-badge" }, VERDICT_LABELS[verdict] || verdict),
  h("code", { class: "lnr-check-id" }, String(check.id)),
  h("span", { class: "lnr-check-message" }, String(check.message ?? "")));
}

export function checksList(checks, { testid = "checks", rowTestid = "check", label = "Checks" } = {}) {
  const list = Array.isArray(checks) ? checks : [];
  if (!list.length) return null;
  return h("ol", { class: "lnr-checks", "aria-label": label, dataset: { testid } },
           list.map((check) => checkRow(check, rowTestid)));
}

// The plan's decision, change and checks (no actions: the page adds those).
export function planSummary(plan) {
  const decision = String(plan.decision);
  const checks = Array.isArray(plan.checks) ? plan.checks : [];
  return [
    h("p", { class: `lnr-decision lnr-decision-${decision.replace(/[^a-z_]/g, "")}`,
             id: "lnr-decision", dataset: { testid: "decision", decision } },
      h("strong", {}, DECISION_TEXT[decision] || decision)),
    changeText(plan.change)
      ? h("p", { class: "lnr-change", dataset: { testid: "change" } }, changeText(plan.change))
      : null,
    checksList(checks),
  ];
}

// Why a blocked plan cannot run: each blocking check's message says what to do instead.
export function blockedReasons(plan) {
  const blocks = (Array.isArray(plan.checks) ? plan.checks : []).filter((c) => c.verdict === "block");
  return h("div", { class: "lnr-blocked", id: "lnr-blocked", dataset: { testid: "blocked-reason" } },
    h("p", {}, "It cannot be confirmed. What to do instead:"),
    h("ul", { class: "lnr-list" }, blocks.length
      ? blocks.map((c) => h("li", {}, h("code", {}, String(c.id)), " ", String(c.message ?? "")))
      : h("li", {}, "The plan is blocked; plan again once the situation has changed.")));
}

// -- a run ------------------------------------------------------------------------------

function eventText(event) {
  const d = event.detail && typeof event.detail === "object" ? event.detail : {};
  switch (event.kind) {
    case "queued": return "Queued";
    case "changing": return "Changing the portal (the state before it is recorded)";
    case "retry_scheduled":
      return `An upstream failed; trying again${Number.isFinite(d.wait_s) ? ` in ${Math.ceil(d.wait_s)} s` : ""}`
        + (d.attempt ? ` (attempt ${d.attempt})` : "");
    case "post_back_retry": return "Posting the result to the ticket failed; trying again";
    case "escalated": return "Escalated to the engineers";
    case "succeeded": case "failed": case "superseded": case "refused":
      return `${event.kind[0].toUpperCase()}${event.kind.slice(1)}${d.message ? `: ${d.message}` : ""}`;
    default: return String(event.kind);
  }
}

export function renderEvents(list, events) {
  return replaceChildren(list, (Array.isArray(events) ? events : []).map((event) => h("li", {
    dataset: { testid: "run-event", kind: String(event.kind) },
  }, h("span", { class: "lnr-muted" }, formatTime(event.at)), " ", eventText(event))));
}

function beforeAfter(outcome) {
  const before = outcome.before && typeof outcome.before === "object" ? outcome.before : {};
  const after = outcome.after && typeof outcome.after === "object" ? outcome.after : {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  if (!keys.length) return null;
  return h("div", {},
    h("h4", {}, "Before → after"),
    definitionList(keys.map((key) => [key, `${describe(before[key])} → ${describe(after[key])}`]),
                   { dataset: { testid: "before-after" } }));
}

const OUTCOME_TEXT = {
  succeeded: "Done.",
  failed: "The change failed.",
  superseded: "Not run: the situation changed since the plan was shown. Nothing was changed; show the plan again.",
  refused: "Not run: the service refused it. Nothing was changed.",
};

// What the post-back writes on the ticket after a run (provisioning-rules.md, "After a run").
const NOTE_TEXT = {
  succeeded: "an internal note with the result",
  failed: "an internal note linking the escalation issue",
  superseded: "an internal note saying nothing changed, with the new plan",
  refused: "an internal note saying nothing changed",
};

// The outcome of a finished run; `reported` is true / false / null (unknown).
export function outcomeView(run, { reported = null } = {}) {
  const outcome = run.outcome && typeof run.outcome === "object" ? run.outcome : null;
  if (!outcome) return [h("p", {}, RUN_STATE_TEXT[run.state] || String(run.state))];
  const status = String(outcome.status);
  const error = outcome.error && typeof outcome.error === "object" ? outcome.error : null;
  const what = NOTE_TEXT[status] || NOTE_TEXT.succeeded;
  const note = reported === false ? `Posting ${what} to the ticket…`
    : reported === true ? `Posted ${what} on the ticket.`
      : `The service posts ${what} on the ticket.`;
  return [
    h("p", { class: `lnr-outcome lnr-outcome-${status.replace(/[^a-z_]/g, "")}`,
             dataset: { testid: "outcome", outcome: status } },
      h("strong", {}, OUTCOME_TEXT[status] || status), outcome.message ? ` ${outcome.message}` : ""),
    definitionList([
      ["Changed", outcome.changed === true ? "yes" : outcome.changed === false ? "no" : null],
      ["Verified", outcome.verified === true ? "yes" : outcome.verified === false ? "no" : null],
      ["Error", error ? describe(error.message ?? error) : null],
      ["Upstream", error && error.upstream ? String(error.upstream) : null],
      ["Request id", error && error.request_id ? String(error.request_id) : null],
    ]),
    beforeAfter(outcome),
    status === "superseded" && Array.isArray(outcome.checks) && outcome.checks.length
      ? [h("h4", {}, `The new plan: ${DECISION_TEXT[outcome.decision] || outcome.decision}`),
         checksList(outcome.checks, { testid: "new-plan-checks", rowTestid: "new-plan-check",
                                      label: "Checks of the new plan" })]
      : null,
    h("p", { class: "lnr-muted", dataset: { testid: "note-status" } }, note),
  ];
}
