// DOM building for the sidebar. Every piece of text goes in as a Text node or textContent:
// ticket-derived text (triage findings, check messages, upstream errors) is data, never
// markup. Links take http(s) URLs only. Nothing here talks to the network.
//
// Words come from the API (workflows/labels.py behind it): a check's `label`, a workflow's
// `workflow_name`, a plan's `decision_label` and `next_step`, a run's event `label`s and
// its `result`. Codes (check ids) are shown only as secondary text, in `.lnr-id`; a code the
// API gives no words for is never shown raw: the generic phrase below stands in.

// Verdicts as workflows/labels.py VERDICT_LABELS names them; a check's own `verdict_label`
// wins. A code with no entry is shown as "Other", never as itself.
const VERDICT_WORDS = {
  pass: "Passed", info: "Note", warn: "Warning", override: "Needs override",
  block: "Blocked", skipped: "Not checked",
};
// The order in which checks decide (provisioning-rules.md, "Decisions").
export const DECIDING_ORDER = ["block", "override", "warn", "info"];

// Fallbacks for a plan answer without the words (an older service): what the decision
// means and what the agent does now.
const DECISION_WORDS = {
  ready: ["Ready to run", "Every check allows this change: confirm to run it."],
  needs_override: ["Needs an override", "Write why the override is right, then confirm."],
  blocked: ["Blocked", "This change cannot run: see what blocks it below."],
  noop: ["Nothing to change", "The ticket's request already holds: nothing to confirm."],
};

export const RUN_STATE_TEXT = {
  queued: "Queued: waiting for a worker…",
  running: "Running…",
  succeeded: "Succeeded",
  failed: "Failed",
  superseded: "Not run: the situation changed",
  escalated: "Failed and escalated to the engineers",
};

// Workflow names: the page's dropdown holds one per workflow (web/sidebar.py renders them
// from workflows/labels.py), the API's `workflows`/`workflow_name` add the rest.
const workflowNames = new Map();

export function learnWorkflowNames(pairs) {
  for (const [name, label] of pairs) {
    if (typeof name === "string" && typeof label === "string" && label) workflowNames.set(name, label);
  }
}

export function workflowName(name, given = null) {
  if (typeof given === "string" && given) return given;
  return workflowNames.get(name) || "Workflow";
}

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
    const url = new URL(value, window.location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

// A link that opens in a new tab (the sidebar is a frame); plain text when not http(s).
export function link(url, text, props = {}) {
  const href = safeUrl(url);
  if (!href) return h("span", props, text);
  const anchor = h("a", { ...props, target: "_blank", rel: "noopener noreferrer" }, text,
                   h("span", { class: "lnr-visually-hidden" }, " (opens in a new tab)"));
  anchor.href = href;
  return anchor;
}

function toDate(iso) {
  if (typeof iso !== "string") return null;
  const moment = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(moment.getTime()) ? null : moment;
}

export function formatTime(iso) {
  const moment = toDate(iso);
  return moment ? moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

// A moment of a run, to the second (the timeline).
export function formatClock(iso) {
  const moment = toDate(iso);
  return moment ? moment.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : "";
}

export function seconds(value) {
  const s = Math.max(0, Math.ceil(value));
  return s < 90 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function asList(value) {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined && v !== "");
  if (value === null || value === undefined || value === "") return [];
  return [value];
}

function words(value, fallback = "") {
  return typeof value === "string" && value.trim() ? value : fallback;
}

// -- triage -----------------------------------------------------------------------------

// Triage's findings as the context carries them (`findings`), or null.
// `recommendation`: {workflow, inputs} when triage recommends a workflow with all its inputs.
export function triageOf(context) {
  const source = context && context.findings;
  if (!source || typeof source !== "object" || Array.isArray(source)) return null;
  const recommendation = source.recommendation && typeof source.recommendation === "object"
    && typeof source.recommendation.workflow === "string"
    && source.recommendation.inputs && typeof source.recommendation.inputs === "object"
    ? { workflow: source.recommendation.workflow, inputs: source.recommendation.inputs } : null;
  const recommended = typeof source.recommended === "string" ? source.recommended
    : recommendation ? recommendation.workflow : null;
  return {
    categoryLabel: words(source.category_label, null),
    subscriptions: asList(source.subscriptions).map(String),
    namespaces: asList(source.namespaces).map(String),
    customers: asList(source.customer_ids).map(String),
    recommended,
    recommendation,
    updatedAt: source.updated_at ?? null,
  };
}

export function renderTriage(container, triage, { reading = false } = {}) {
  const title = h("h2", { class: "lnr-findings-title" }, "What triage found");
  if (reading) {
    return replaceChildren(container, title, h("p", { class: "lnr-muted" }, "Reading the ticket…"));
  }
  if (!triage) {
    return replaceChildren(container, title,
                           h("p", { class: "lnr-muted" }, "No findings for this ticket."));
  }
  const named = [
    ...triage.subscriptions, ...triage.namespaces,
    ...triage.customers.map((id) => `customer ${id}`),
  ];
  return replaceChildren(container, title,
    h("ul", { class: "lnr-findings-list", dataset: { testid: "triage-findings" } },
      triage.categoryLabel ? h("li", {}, triage.categoryLabel) : null,
      h("li", { dataset: { testid: "triage-named" } },
        named.length ? named.join(" · ") : "No subscription, group or customer named."),
      triage.recommended
        ? h("li", { dataset: { testid: "triage-recommended" } }, "Suggests: ",
            h("strong", {}, workflowName(triage.recommended)),
            h("span", { id: "lnr-triage-planned", hidden: true, dataset: { testid: "plan-suggested" } },
              ", planned below"))
        : null));
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
    h("strong", {}, `#${run.id} ${workflowName(run.workflow, run.workflow_name)}`),
    ` — ${(RUN_STATE_TEXT[run.state] || "Recorded").replace(/…$/, "")}`,
    h("span", { class: "lnr-block lnr-muted" },
      [inputsSummary(run.inputs), formatTime(run.created_at)].filter(Boolean).join(" · "))))),
    list.length > shown.length
      ? h("p", { class: "lnr-muted" }, `and ${list.length - shown.length} older`) : null);
}

function escalationHref(escalation) {
  return escalation ? escalation.url || escalation.web_url || escalation.issue_url : null;
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
    link(escalationHref(e), e.issue_iid ? `Issue #${e.issue_iid}` : "Escalation issue",
         { dataset: { testid: "open-escalation-link" } }),
    ` — ${workflowName(e.workflow, e.workflow_name)}, opened ${formatTime(e.created_at)}`))));
}

// -- a plan -----------------------------------------------------------------------------

function verdictWords(check) {
  return words(check.verdict_label, VERDICT_WORDS[check.verdict] || "Other");
}

function verdictClass(verdict) {
  return VERDICT_WORDS[verdict] ? `lnr-verdict-${verdict}` : "lnr-verdict-other";
}

// One check: its verdict and label, its message, and its id as secondary text.
// `said`: a sentence already on screen (the next step), not repeated as the message.
export function checkRow(check, testid = "check", said = null) {
  const verdict = String(check.verdict);
  const message = words(check.message) && check.message !== said ? check.message : "";
  return h("li", {
    class: `lnr-check ${verdictClass(verdict)}`,
    dataset: { testid, checkId: String(check.id), verdict },
  },
  h("p", { class: "lnr-check-label" }, words(check.label, "A check")),
  h("p", { class: "lnr-check-message" },
    h("span", { class: "lnr-tag" }, verdictWords(check)), " ", message, message ? " " : "",
    h("span", { class: "lnr-id", dataset: { testid: "check-id" } }, String(check.id))));
}

// The checks that decide, in DECIDING_ORDER: the API's `deciding` ids where it gives them.
export function decidingChecks(plan) {
  const checks = Array.isArray(plan.checks) ? plan.checks : [];
  if (Array.isArray(plan.deciding)) {
    const byId = new Map(checks.map((c) => [String(c.id), c]));
    return plan.deciding.map((id) => byId.get(String(id))).filter(Boolean);
  }
  return DECIDING_ORDER.flatMap((verdict) => checks.filter((c) => c.verdict === verdict));
}

export function checksList(checks, { testid = "checks", rowTestid = "check", label = "Checks", said = null } = {}) {
  const list = Array.isArray(checks) ? checks : [];
  if (!list.length) return null;
  return h("ol", { class: "lnr-checks", "aria-label": label, dataset: { testid } },
           list.map((check) => checkRow(check, rowTestid, said)));
}

export function decisionWords(plan) {
  const [label, next] = DECISION_WORDS[plan.decision] || ["Unknown decision", "Nothing can be confirmed."];
  return { label: words(plan.decision_label, label), next: words(plan.next_step, next) };
}

// The plan's head: what it would do (its title), the decision and what to do now, and the
// checks that decide. The page puts the confirmation right under it.
export function planHead(plan) {
  const decision = String(plan.decision);
  const said = decisionWords(plan);
  const deciding = decidingChecks(plan);
  return [
    h("div", { class: `lnr-decision lnr-decision-${DECISION_WORDS[decision] ? decision : "other"}`,
               id: "lnr-decision", dataset: { testid: "decision", decision } },
      h("p", {}, h("strong", { class: "lnr-decision-label" }, /[.:!?]$/.test(said.label) ? said.label : `${said.label}.`),
        " ", h("span", { class: "lnr-decision-next", dataset: { testid: "next-step" } }, said.next))),
    deciding.length
      ? checksList(deciding, { testid: "deciding-checks", label: "The checks that decide", said: said.next })
      : null,
  ];
}

// What the plan changes. A ready plan shows it above its confirm button (nothing else stands
// between); the others below the confirmation, which must fit a 600 px panel first.
export function planChanges(plan) {
  return changesList(plan.changes, "What changes", "changes");
}

// The plan's tail: the checks that passed (and those not run), folded.
export function planTail(plan) {
  const checks = Array.isArray(plan.checks) ? plan.checks : [];
  const deciding = new Set(decidingChecks(plan).map((c) => String(c.id)));
  const rest = checks.filter((c) => !deciding.has(String(c.id)));
  const passed = rest.filter((c) => c.verdict === "pass").length;
  const skipped = rest.length - passed;
  const summary = [passed ? `${passed} ${passed === 1 ? "check" : "checks"} passed` : null,
                   skipped ? `${skipped} not checked` : null].filter(Boolean).join(", ");
  return rest.length
    ? h("details", { class: "lnr-fold", dataset: { testid: "passed-checks" } },
        h("summary", {}, summary),
        checksList(rest, { testid: "other-checks", label: "The other checks" }))
    : null;
}

// [{label, before, after}] in words, as the API gives them.
export function changesList(changes, title, testid) {
  const rows = (Array.isArray(changes) ? changes : [])
    .filter((c) => c && typeof c === "object" && words(c.label));
  if (!rows.length) return null;
  return h("div", { class: "lnr-changes" },
    h("h3", {}, title),
    h("dl", { class: "lnr-dl", dataset: { testid } },
      rows.map((c) => [h("dt", {}, c.label),
                       h("dd", {}, words(c.before, "—"), h("span", { "aria-hidden": "true" }, " → "),
                         h("span", { class: "lnr-visually-hidden" }, " becomes "), words(c.after, "—"))])));
}

// Why a blocked plan cannot run: the blocking checks above say what to do instead.
export function blockedReasons() {
  return h("p", { class: "lnr-blocked", id: "lnr-blocked", dataset: { testid: "blocked-reason" } },
           "Nothing can be confirmed. What blocks it says what to do instead.");
}

// -- a run ------------------------------------------------------------------------------

export function renderEvents(list, events) {
  return replaceChildren(list, (Array.isArray(events) ? events : []).map((event) => h("li", {
    dataset: { testid: "run-event", kind: String(event.kind) },
  }, h("time", { class: "lnr-muted", datetime: String(event.at ?? "") }, formatClock(event.at)), " ",
  words(event.label, "Progress recorded"))));
}

// What the post-back writes on the ticket after a run (provisioning-rules.md, "After a run").
const NOTE_TEXT = {
  succeeded: "an internal note with the result",
  failed: "an internal note linking the escalation issue",
  superseded: "an internal note saying nothing changed, with the new plan",
  refused: "an internal note saying nothing changed",
};

const HEADLINE = {
  succeeded: "Done.",
  failed: "The change failed.",
  superseded: "Not run: the situation changed since the plan was shown. Nothing was changed; show the plan again.",
  refused: "Not run: the service refused it. Nothing was changed.",
};

// Which failure it was, in a line; its message only when the headline does not hold it.
function failureView(failure, headline) {
  const kind = failure.kind === "business" ? "A refusal: trying again would not help."
    : failure.kind === "transient" ? "Not a refusal: the upstream was failing." : "";
  const message = words(failure.message);
  return h("p", { class: "lnr-failure", dataset: { testid: "failure", kind: String(failure.kind) } },
           kind, message && !headline.includes(message) ? ` ${message}` : "");
}

// The outcome of a finished run; `reported` is true / false / null (unknown).
export function outcomeView(run, { reported = null } = {}) {
  const outcome = run.outcome && typeof run.outcome === "object" ? run.outcome : null;
  const result = run.result && typeof run.result === "object" ? run.result : null;
  const failure = run.failure && typeof run.failure === "object" ? run.failure : null;
  if (!outcome && !result && !failure) return [h("p", {}, RUN_STATE_TEXT[run.state] || "Ended")];
  const status = String((outcome && outcome.status) || (failure ? "failed" : run.state));
  const what = NOTE_TEXT[status] || NOTE_TEXT.succeeded;
  const note = reported === false ? `Posting ${what} to the ticket…`
    : reported === true ? `Posted ${what} on the ticket.`
      : `The service posts ${what} on the ticket.`;
  const headline = words(result && result.headline, HEADLINE[status] || "The run ended.");
  return [
    h("p", { class: `lnr-outcome lnr-outcome-${NOTE_TEXT[status] ? status : "other"}`,
             dataset: { testid: "outcome", outcome: status } }, headline),
    failure ? failureView(failure, headline) : null,
    changesList(result && result.changes, "Before → after", "before-after"),
    status === "superseded" && outcome && Array.isArray(outcome.checks)
      ? h("div", {}, h("h4", {}, `The new plan: ${decisionWords(outcome).label}`),
          checksList(decidingChecks(outcome), { testid: "new-plan-checks", rowTestid: "new-plan-check",
                                                 label: "The checks that decide the new plan" }))
      : null,
    h("p", { class: "lnr-muted", dataset: { testid: "note-status" } }, note),
  ];
}
