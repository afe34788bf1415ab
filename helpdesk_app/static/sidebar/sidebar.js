// The ticket sidebar: the ticket's context, a workflow's plan, the agent's confirmation,
// and the run followed until it ends (architecture.md, "A sidebar action";
// provisioning-rules.md for checks, verdicts and decisions).
//
// Modules: host.js (Zendesk or not: the ticket id, resizing), api.js (the session and the
// API), render.js (DOM building, text only). This one wires them to the page's markup
// (helpdesk_app/web/sidebar.py), whose ids and data-testid attributes stay stable.

import {
  createSession, getRun, newIdempotencyKey, plan as requestPlan, readFindings, startRun, ticketContext,
  waitForRun,
} from "./api.js";
import { detectHost } from "./host.js";
import {
  RUN_STATE_TEXT, blockedReasons, decisionWords, h, learnWorkflowNames, outcomeView, planChanges,
  planHead, planTail, renderEscalations, renderEvents, renderRuns, renderTriage, replaceChildren, safeUrl,
  seconds, triageOf, workflowName,
} from "./render.js";

// Which inputs each workflow takes (provisioning-rules.md, "Workflows"): required,
// optional, or not at all. unlink_account and link_account want a customer or a
// subscription; link_account's GitLab.com user defaults to the requester's (by email).
const FIELDS = {
  associate: { subscription: "required", namespace: "required", customer: null, gitlab_user: null },
  force_associate: { subscription: "required", namespace: "required", customer: null, gitlab_user: null },
  clear_subscription: { subscription: "required", namespace: null, customer: null, gitlab_user: null },
  unlink_account: { subscription: "optional", namespace: null, customer: "optional", gitlab_user: null },
  link_account: { subscription: "optional", namespace: "optional", customer: "optional", gitlab_user: "optional" },
};
const NEEDS_CUSTOMER = ["unlink_account", "link_account"];
const FIELD_LABELS = {
  subscription: "Subscription", namespace: "Group", customer: "Portal customer id",
  gitlab_user: "GitLab.com user",
};
// A recommendation's inputs (the plan request's names, or the stored plural forms) -> field.
const RECOMMENDED_FIELDS = {
  subscription: "subscription", subscriptions: "subscription", namespace: "namespace",
  namespaces: "namespace", customer: "customer", customer_id: "customer", gitlab_user: "gitlab_user",
};
// The API's `field` of a bad_input error -> the input it is about.
const ERROR_FIELDS = {
  subscription: "subscription", subscriptions: "subscription",
  namespace: "namespace", namespaces: "namespace",
  customer: "customer", customer_id: "customer", gitlab_user: "gitlab_user",
};

const FINISHED = ["succeeded", "failed", "superseded", "escalated"];
const POLL_FIRST_MS = 1000;
const POLL_FACTOR = 1.5;
const POLL_MAX_MS = 10000;
// After a run ends, its post-back (note or escalation) follows; wait this long for it.
const POST_BACK_WAIT_MS = 180000;

const TICK_MS = 1000; // the waiting countdown

const $ = (id) => document.getElementById(id);

const els = {
  main: $("lnr-sidebar"),
  ticket: $("lnr-ticket"),
  status: $("lnr-status"),
  error: $("lnr-error"),
  triage: $("lnr-triage"),
  runs: $("lnr-runs"),
  escalations: $("lnr-escalations"),
  planForm: $("lnr-plan-form"),
  workflow: $("lnr-workflow"),
  workflowHint: $("lnr-workflow-hint"),
  showPlan: $("lnr-show-plan"),
  plan: $("lnr-plan"),
  planTitle: $("lnr-plan-title"),
  planBody: $("lnr-plan-body"),
  run: $("lnr-run"),
  runTitle: $("lnr-run-title"),
  runStatus: $("lnr-run-status"),
  runEvents: $("lnr-run-events"),
  waiting: $("lnr-waiting"),
  result: $("lnr-result"),
  escalation: $("lnr-escalation"),
  escalationLink: $("lnr-escalation-link"),
};
const inputs = {
  subscription: $("lnr-subscription"),
  namespace: $("lnr-namespace"),
  customer: $("lnr-customer"),
  gitlab_user: $("lnr-gitlab_user"),
};

const state = {
  session: null,
  ticketId: null,       // a string of digits
  inFlight: 0,          // requests under way that the agent waits for
  plan: null,           // {request, result}: the plan on screen, while its inputs stand
  pending: null,        // {key, body}: a confirmation that may be retried with its key
  following: null,      // the id of the run being followed
  contextLoaded: false,
  waiting: null,        // {attempt, of, nextAt, lastAt}: a retry pending, on performance.now()
  ticker: 0,
};

// -- status, errors, focus ----------------------------------------------------------------

function announce(text) {
  els.status.textContent = text;
}

function clearError() {
  els.error.hidden = true;
  els.error.replaceChildren();
}

// Show an error in the alert region and move focus there. `action`: {label, run}.
// The error's code is secondary text (like a check's id): the message says it in words.
function showError(title, error, action = null) {
  const detail = error && error.detail ? error.detail : {};
  const lines = [];
  if (detail.upstream) lines.push(["Upstream", String(detail.upstream)]);
  if (detail.request_id) lines.push(["Request id", String(detail.request_id)]);
  if (error && error.retryAfter) lines.push(["Try again in", `${error.retryAfter} s`]);
  replaceChildren(els.error,
    h("p", { class: "lnr-error-title" }, h("strong", {}, title)),
    error && error.message ? h("p", { dataset: { testid: "error-message" } }, error.message) : null,
    lines.length ? h("dl", { class: "lnr-dl" }, lines.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))
      : null,
    error && error.code ? h("p", { class: "lnr-id", dataset: { testid: "error-code" } }, error.code) : null,
    action ? actionButton(action) : null);
  els.error.hidden = false;
  els.error.focus();
}

function actionButton({ label, run }) {
  const button = h("button", { type: "button", class: "lnr-button", dataset: { testid: "error-action" } }, label);
  button.addEventListener("click", () => { clearError(); run(); });
  return button;
}

function focusOn(element) {
  if (element && typeof element.focus === "function") element.focus();
}

// Focus a heading and bring its section (from `top` down) to the top of the view. Plain
// focus() scrolls only as far as the heading itself: in a frame of fixed height (the
// sandbox's agent page) a new plan or run was left below the fold, its heading alone on the
// last line.
function reveal(heading, top = heading) {
  if (!heading || typeof heading.focus !== "function") return;
  heading.focus({ preventScroll: true });
  if (top && typeof top.scrollIntoView === "function") top.scrollIntoView({ block: "start" });
}

// While a request is in flight: no second click, and assistive tech hears that it is busy.
async function whileBusy(work) {
  state.inFlight += 1;
  syncButtons();
  try {
    return await work();
  } finally {
    state.inFlight -= 1;
    syncButtons();
  }
}

function busy() {
  return state.inFlight > 0;
}

function syncButtons() {
  els.main.setAttribute("aria-busy", String(busy()));
  const off = busy() || !state.ticketId || Boolean(state.session && state.session.ended);
  els.showPlan.disabled = off;
  const confirm = $("lnr-confirm");
  if (confirm) confirm.disabled = off;
}

function sessionEnded(error) {
  state.following = null;
  for (const control of els.main.querySelectorAll("button, input, select, textarea")) {
    if (control.dataset.testid !== "error-action") control.disabled = true;
  }
  els.main.dataset.session = "ended";
  announce("Your session has ended.");
  showError("Your session has ended. Reload the app to continue.",
            { code: error && error.code,
              message: "Refresh the Zendesk page in your browser (or reload this app) to sign in again. "
                + "Nothing you confirmed is lost: runs carry on without the page." });
}

// -- the ticket and its context ----------------------------------------------------------

async function start(host) {
  announce("Finding the ticket…");
  let ticketId = null;
  try {
    ticketId = await host.ticketId();
  } catch (error) {
    announce("No ticket.");
    showError("Zendesk did not tell the app which ticket is open.",
              { message: `${error.message}. Reload the app to try again.` });
    return;
  }
  if (!ticketId) {
    els.main.setAttribute("aria-busy", "false");
    announce("No ticket.");
    showError("No ticket to work on.", {
      message: host.kind === "zendesk"
        ? "Zendesk gave no ticket id: open this app from a ticket."
        : "This page was opened without a ticket id (the ticket_id of POST /sidebar).",
    });
    return;
  }
  state.ticketId = ticketId;
  els.ticket.textContent = `Ticket #${ticketId}`;
  syncButtons();
  await loadContext();
}

// The ticket's context; `quiet` refreshes it in the background (after a run), saying nothing.
// The first load also reads the ticket when triage has not (read only), and shows the plan
// triage recommends, so that a triaged ticket is one click from its run.
async function loadContext({ quiet = false } = {}) {
  if (!quiet) announce("Loading the ticket's context…");
  let context;
  try {
    const load = () => ticketContext(state.session, state.ticketId);
    context = await (quiet ? load() : whileBusy(load));
  } catch (error) {
    if (error.sessionEnded || quiet) return;
    announce("The ticket's context could not be loaded.");
    showError("The ticket's context could not be loaded.", error,
              { label: "Load the context again", run: () => loadContext() });
    return;
  }
  allowWorkflows(context.workflows);
  renderRuns(els.runs, context.runs);
  renderEscalations(els.escalations, context.escalations);
  if (state.contextLoaded) {
    renderTriage(els.triage, triageOf(context));
    return;
  }
  state.contextLoaded = true;
  const triage = context.findings ? triageOf(context) : await readTicket();
  renderTriage(els.triage, triage);
  prefill(triage);
  const recommendation = triage && triage.recommendation;
  if (recommendation && mayRun(recommendation.workflow) && FIELDS[recommendation.workflow]) {
    await planNow({ shownOnLoad: true });
  } else {
    announce("Ready: choose a workflow and show its plan.");
  }
  els.main.dataset.ready = "true";
}

// A ticket that triage never read: read it now (the API diagnoses it, read only).
async function readTicket() {
  renderTriage(els.triage, null, { reading: true });
  announce("Reading the ticket…");
  try {
    const answer = await whileBusy(() => readFindings(state.session, state.ticketId));
    return triageOf(answer);
  } catch (error) {
    if (!error.sessionEnded) announce("The ticket could not be read; plan by hand.");
    return null;
  }
}

// Which workflows this agent may run (the context's `workflows`): the others stay in the
// list, disabled, saying which group may run them.
function allowWorkflows(workflows) {
  if (!Array.isArray(workflows)) return;
  learnWorkflowNames(workflows.map((w) => [w.name, w.label]));
  const refused = new Map(); // who may -> the workflows only they may run
  for (const option of els.workflow.options) {
    const entry = workflows.find((w) => w.name === option.value);
    if (!entry) continue;
    const groups = Array.isArray(entry.allowed_groups) ? entry.allowed_groups.map(String) : [];
    const name = workflowName(entry.name, entry.label);
    const who = groups.length ? groups.join(" or ") : "a Zendesk admin";
    option.disabled = entry.allowed === false;
    option.dataset.allowed = String(entry.allowed !== false);
    option.textContent = option.disabled ? `${name} (${who} only)` : name;
    if (option.disabled) refused.set(who, [...(refused.get(who) || []), name]);
  }
  els.workflowHint.textContent = [...refused].map(([who, names]) => `Only ${who} may run ${listed(names)}.`)
    .join(" ");
  els.workflowHint.hidden = !refused.size;
  if (!mayRun(els.workflow.value)) {
    const first = [...els.workflow.options].find((o) => !o.disabled);
    if (first) els.workflow.value = first.value;
    showFieldsOf(els.workflow.value);
  }
}

function listed(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names[0];
}

function mayRun(workflow) {
  const option = [...els.workflow.options].find((o) => o.value === workflow);
  return Boolean(option && !option.disabled);
}

// Triage's findings fill the form once (its recommendation's inputs first); the agent edits
// from there.
function prefill(triage) {
  if (!triage) return;
  options($("lnr-subscription-options"), triage.subscriptions);
  options($("lnr-namespace-options"), triage.namespaces);
  const recommendation = triage.recommendation;
  const workflow = (recommendation && recommendation.workflow) || triage.recommended;
  if (workflow && mayRun(workflow) && FIELDS[workflow]) els.workflow.value = workflow;
  const values = { subscription: triage.subscriptions[0], namespace: triage.namespaces[0] };
  if (recommendation && recommendation.workflow === els.workflow.value) {
    for (const [key, value] of Object.entries(recommendation.inputs)) {
      const field = RECOMMENDED_FIELDS[key];
      const first = Array.isArray(value) ? value[0] : value;
      if (field && first !== null && first !== undefined && first !== "") values[field] = String(first);
    }
  }
  for (const [name, value] of Object.entries(values)) {
    if (value && !inputs[name].value) inputs[name].value = String(value);
  }
  showFieldsOf(els.workflow.value);
}

function options(datalist, values) {
  replaceChildren(datalist, values.map((value) => {
    const option = h("option");
    option.value = value;
    return option;
  }));
}

// -- the plan form -------------------------------------------------------------------------

function showFieldsOf(workflow) {
  const fields = FIELDS[workflow] || FIELDS.associate;
  for (const [name, input] of Object.entries(inputs)) {
    const mode = fields[name];
    const wrapper = $(`lnr-${name}-field`);
    wrapper.hidden = !mode;
    input.disabled = !mode;
    input.required = mode === "required";
    input.setAttribute("aria-required", String(mode === "required"));
    wrapper.querySelector("label").textContent =
      FIELD_LABELS[name] + (mode === "optional" ? " (optional)" : "");
  }
}

function clearFieldErrors() {
  for (const [name, input] of Object.entries(inputs)) {
    input.removeAttribute("aria-invalid");
    const message = $(`lnr-${name}-error`);
    message.hidden = true;
    message.textContent = "";
  }
}

function fieldError(name, text) {
  const input = inputs[name];
  const message = $(`lnr-${name}-error`);
  input.setAttribute("aria-invalid", "true");
  message.textContent = text;
  message.hidden = false;
}

// The plan request for the form as it is, or null (with the faults shown and focused).
function planRequest() {
  const workflow = els.workflow.value;
  const fields = FIELDS[workflow];
  const values = {};
  for (const [name, mode] of Object.entries(fields)) {
    const value = mode ? inputs[name].value.trim() : "";
    if (value) values[name] = value;
  }
  const missing = Object.entries(fields).filter(([name, mode]) => mode === "required" && !values[name]);
  for (const [name] of missing) fieldError(name, `${FIELD_LABELS[name]} is required for ${workflowName(workflow)}.`);
  if (NEEDS_CUSTOMER.includes(workflow) && !values.subscription && !values.customer) {
    fieldError("customer", "Give the portal customer id, or a subscription to find its customer.");
    missing.push(["customer"]);
  }
  if (values.customer && !/^[1-9][0-9]{0,18}$/.test(values.customer)) {
    fieldError("customer", "A portal customer id is a positive whole number.");
    missing.push(["customer"]);
  }
  if (missing.length) {
    announce("Some inputs need attention.");
    focusOn(inputs[missing[0][0]]);
    return null;
  }
  if (values.customer) values.customer = asId(values.customer);
  return { workflow, ticket_id: asId(state.ticketId), inputs: values };
}

// Ids as JSON numbers while exact, else as digit strings (the API takes both).
function asId(digits) {
  const number = Number(digits);
  return Number.isSafeInteger(number) ? number : digits;
}

async function onShowPlan(event) {
  event.preventDefault();
  await planNow();
}

// Plan the form as it is. `shownOnLoad`: triage's recommendation, planned as the sidebar
// opens; it takes no focus (the agent may be typing in the ticket) and stays at the top.
async function planNow({ shownOnLoad = false } = {}) {
  if (busy() || !state.ticketId) return;
  clearError();
  clearFieldErrors();
  const request = planRequest();
  if (!request) return;
  const name = workflowName(request.workflow);
  announce(shownOnLoad ? `Planning ${name}, as triage suggests…` : `Planning ${name}…`);
  let result;
  try {
    result = await whileBusy(() => requestPlan(state.session, request));
  } catch (error) {
    if (error.sessionEnded) return;
    const field = error.code === "bad_input" && ERROR_FIELDS[error.detail.field];
    if (field && !inputs[field].disabled) {
      fieldError(field, error.message);
      announce("Some inputs need attention.");
      if (!shownOnLoad) focusOn(inputs[field]);
      return;
    }
    announce("The plan could not be made.");
    if (!shownOnLoad) showError("The plan could not be made.", error);
    return;
  }
  state.plan = { request, result };
  state.pending = null;
  showPlan(result, { shownOnLoad });
  announce(`Plan ready${shownOnLoad ? " (as triage suggests)" : ""}: ${decisionWords(result).label}.`);
  if (shownOnLoad) bringToTop(els.planTitle);
  else reveal(els.planTitle);
}

// Scroll the sidebar's own page (never Zendesk's) so that `element` starts at its top: the
// decision, what decides it and the confirmation then fit a 600 px high panel. No focus.
function bringToTop(element) {
  const root = document.scrollingElement;
  if (root) root.scrollTop = Math.max(0, element.getBoundingClientRect().top + root.scrollTop);
}

function showPlan(result, { shownOnLoad = false } = {}) {
  const decision = result.decision;
  // The API's title says what the plan would do, in words (it names the workflow too).
  els.planTitle.textContent = typeof result.title === "string" && result.title
    ? result.title : workflowName(result.workflow, result.workflow_name);
  const ready = decision === "ready";
  replaceChildren(els.planBody, planHead(result), ready ? planChanges(result) : null, planActions(result),
                  ready ? null : planChanges(result), planTail(result));
  els.plan.dataset.decision = decision;
  els.plan.dataset.suggested = String(shownOnLoad); // the findings above say "planned below"
  const suggested = $("lnr-triage-planned");
  if (suggested) suggested.hidden = !shownOnLoad;
  els.plan.hidden = false;
  syncButtons();
}

function planActions(result) {
  switch (result.decision) {
    case "blocked":
      return blockedReasons(result);
    case "noop":
      return h("p", { class: "lnr-noop", dataset: { testid: "noop-message" } },
               "No change is needed, so there is nothing to confirm.");
    case "ready":
    case "needs_override":
      return confirmForm(result);
    default:
      return h("p", {}, "This plan's decision is unknown here: nothing can be confirmed.");
  }
}

function overrideIds(result) {
  return (result.checks || []).filter((c) => c.verdict === "override").map((c) => String(c.id));
}

// Who may confirm each override (the API's `override_confirmers`): an override with another
// workflow's effect needs that workflow's permission, and the API refuses anyone else.
function confirmers(result) {
  const list = result.override_confirmers || [];
  const refused = list.filter((c) => !c.allowed);
  const shown = list.filter((c) => c.workflow);
  if (!shown.length) return { refused, view: null };
  return {
    refused,
    view: h("div", { class: "lnr-confirmers", dataset: { testid: "override-confirmers" } },
      ...shown.map((c) => h("p", { class: c.allowed ? "lnr-hint" : "lnr-refusal",
                                    dataset: { testid: "override-confirmer", allowed: String(c.allowed) } },
                            String(c.message)))),
  };
}

function confirmForm(result) {
  const needsReason = result.decision === "needs_override";
  const warned = (result.checks || []).some((c) => c.verdict === "warn");
  const who = confirmers(result);
  if (who.refused.length) {
    // The decision's next step already says to ask; this says who, and why.
    return h("div", { class: "lnr-confirm lnr-refused", dataset: { testid: "confirm-refused" } },
      who.view || h("p", {}, "You may not confirm this plan."));
  }
  const form = h("form", { id: "lnr-confirm-form", class: "lnr-confirm", novalidate: true,
                           "aria-label": "Confirm the plan", dataset: { testid: "confirm-form" } },
    who.view,
    needsReason ? reasonField() : null,
    h("button", { type: "submit", id: "lnr-confirm", class: "lnr-button lnr-button-primary",
                  dataset: { testid: "confirm-button" } },
      needsReason ? "Override and run" : "Confirm and run"),
    warned ? h("p", { class: "lnr-hint" }, "The note on the ticket will state the warnings.") : null);
  form.addEventListener("submit", onConfirm);
  return form;
}

function reasonField() {
  return h("div", { class: "lnr-field" },
    h("label", { for: "lnr-reason" }, "Reason for the override (required)"),
    h("textarea", { id: "lnr-reason", name: "reason", rows: 2, maxlength: 2000, required: true,
                    "aria-required": "true", "aria-describedby": "lnr-reason-error",
                    dataset: { testid: "reason-input" } }),
    h("p", { id: "lnr-reason-error", class: "lnr-field-error", hidden: true,
             dataset: { testid: "reason-error" } }));
}

// Any edit after the plan was shown makes it stale: no confirming a plan for other inputs.
function onFormEdited() {
  if (!state.plan) return;
  state.plan = null;
  state.pending = null;
  const form = $("lnr-confirm-form");
  const note = h("p", { class: "lnr-stale", dataset: { testid: "plan-stale" } },
                 "The inputs changed: show the plan again before confirming.");
  if (form) form.replaceWith(note);
  else els.planBody.append(note);
}

// -- confirming, and following the run ----------------------------------------------------

async function onConfirm(event) {
  event.preventDefault();
  if (busy() || !state.plan) return;
  clearError();
  const { request, result } = state.plan;
  const confirmation = { decision: result.decision, override_ids: overrideIds(result) };
  if (result.decision === "needs_override") {
    const reasonInput = $("lnr-reason");
    const reason = reasonInput.value.trim();
    const message = $("lnr-reason-error");
    if (!reason) {
      reasonInput.setAttribute("aria-invalid", "true");
      message.textContent = "Write why the override is right: it is required.";
      message.hidden = false;
      announce("A reason is required.");
      focusOn(reasonInput);
      return;
    }
    reasonInput.removeAttribute("aria-invalid");
    message.hidden = true;
    confirmation.reason = reason;
  }
  const body = { ...request, confirmation };
  // One fresh key per confirmation; the same key again only to retry this very confirmation
  // after it got no answer, so that a retry can never start a second run.
  const text = JSON.stringify(body);
  const key = state.pending && state.pending.body === text ? state.pending.key : newIdempotencyKey();
  state.pending = { key, body: text };
  announce("Starting the run…");
  let answer;
  try {
    answer = await whileBusy(() => startRun(state.session, body, key));
  } catch (error) {
    if (error.sessionEnded) return;
    if (!error.retryable) state.pending = null;
    announce("The run could not be started.");
    showError("The run could not be started.", error.retryable
      ? { ...error, code: error.code, detail: error.detail,
          message: `${error.message} Confirm again to retry: the same confirmation never starts a second run.` }
      : error);
    return;
  }
  state.pending = null;
  state.plan = null;
  const form = $("lnr-confirm-form");
  if (form) {
    form.replaceWith(h("p", { class: "lnr-confirmed", dataset: { testid: "confirmed" } },
                       `Confirmed: run #${answer.run.id}. Show the plan again for another change.`));
  }
  follow(answer.run, answer.replayed);
}

// The issue's address: the API's `escalation.url` (GitLab's web_url upstream, a readable
// page in sandbox mode), else what the escalated event recorded.
function escalationUrl(run) {
  const escalation = run.escalation && typeof run.escalation === "object" ? run.escalation : null;
  const event = (run.events || []).find((e) => e.kind === "escalated" && e.detail && e.detail.issue_url);
  const iid = (escalation && escalation.issue_iid) || (event && event.detail.issue_iid) || null;
  const url = (escalation && (escalation.url || escalation.issue_url)) || (event && event.detail.issue_url);
  return url ? { url, iid } : null;
}

// Has the run ended, with what it posts to the ticket? {done, reported}
// `reported`: true/false once the run says (a `reported_at`), null when it cannot tell.
function progressOf(run) {
  if (!FINISHED.includes(run.state)) return { done: false, reported: null };
  if (Object.prototype.hasOwnProperty.call(run, "reported_at")) {
    const reported = run.reported_at !== null || run.state === "escalated";
    return { done: reported, reported };
  }
  // A failure is escalated by the post-back that follows: wait for the link.
  const escalating = run.state === "failed" && run.outcome && run.outcome.status === "failed";
  return { done: !escalating, reported: null };
}

function showRun(run, { done, reported }) {
  els.run.hidden = false;
  els.run.dataset.runId = String(run.id);
  els.runTitle.textContent = `Run #${run.id}: ${workflowName(run.workflow, run.workflow_name)}`;
  els.runStatus.dataset.state = run.state;
  const retrying = !FINISHED.includes(run.state) && run.waiting;
  els.runStatus.textContent = (retrying ? "Waiting to try again" : RUN_STATE_TEXT[run.state] || "Recorded")
    + (!done && FINISHED.includes(run.state) ? " — finishing on the ticket…" : "");
  renderEvents(els.runEvents, run.events);
  wait(FINISHED.includes(run.state) ? null : run.waiting);
  const escalation = escalationUrl(run);
  const href = escalation && safeUrl(escalation.url);
  if (href) {
    replaceChildren(els.escalationLink,
                    escalation.iid ? `Open escalation issue #${escalation.iid}` : "Open the escalation issue",
                    h("span", { class: "lnr-visually-hidden" }, " (opens in a new tab)"));
    els.escalationLink.href = href;
    els.escalation.hidden = false;
  } else {
    els.escalationLink.removeAttribute("href");
    els.escalation.hidden = true;
  }
  if (FINISHED.includes(run.state)) {
    els.result.dataset.outcome = (run.outcome && run.outcome.status) || (run.failure ? "failed" : run.state);
    replaceChildren(els.result, h("h3", { id: "lnr-result-title", tabindex: "-1" }, "Result"),
                    outcomeView(run, { reported }));
    els.result.hidden = false;
  } else {
    els.result.hidden = true;
  }
}

// -- honest waiting: a retry pending, counted down ------------------------------------------

// `waiting`: {attempt, of, next_in_s, longest_wait_left_s} from the run, or null.
function wait(waiting) {
  if (!waiting || typeof waiting !== "object" || !Number.isFinite(waiting.next_in_s)) {
    state.waiting = null;
    clearInterval(state.ticker);
    state.ticker = 0;
    els.waiting.hidden = true;
    return;
  }
  const now = performance.now();
  state.waiting = {
    attempt: waiting.attempt, of: waiting.of, nextAt: now + waiting.next_in_s * 1000,
    lastAt: Number.isFinite(waiting.longest_wait_left_s) ? now + waiting.longest_wait_left_s * 1000 : null,
  };
  if (!state.ticker) state.ticker = setInterval(tick, TICK_MS);
  tick();
}

function tick() {
  const w = state.waiting;
  if (!w) return;
  const now = performance.now();
  const next = (w.nextAt - now) / 1000;
  const attempt = Number.isFinite(w.attempt) && Number.isFinite(w.of) ? `attempt ${w.attempt} of ${w.of}` : "the next attempt";
  const longest = w.lastAt === null ? "" : ` At most ${seconds((w.lastAt - now) / 1000)} more before it gives up and escalates.`;
  els.waiting.textContent = `An upstream failed for now. Trying again: ${attempt}, `
    + `${next > 0 ? `next in ${seconds(next)}` : "under way"}.${longest}`;
  els.waiting.hidden = false;
}

// How long to wait before asking for the run again: sooner when a retry is due.
function pollDelay(delay) {
  if (!state.waiting) return delay;
  const due = state.waiting.nextAt - performance.now() + 500;
  return Math.max(POLL_FIRST_MS, Math.min(delay, due));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow(run, replayed) {
  const id = run.id;
  state.following = id;
  let progress = progressOf(run);
  showRun(run, progress);
  announce(`${replayed ? `This confirmation was already recorded as run #${id}` : `Run #${id} started`}. `
           + (RUN_STATE_TEXT[run.state] || "Recorded"));
  reveal(els.runTitle);
  let delay = POLL_FIRST_MS;
  let lastState = run.state;
  let finishedAt = null;
  let troubled = false;
  while (!progress.done) {
    // The service answers a long poll as soon as the run moves (GET /runs/<id>?wait=&seen=);
    // after a failed request, and for a run without a version, it is polled with backoff.
    const longPoll = run.version !== undefined && !troubled;
    if (!longPoll) {
      await sleep(pollDelay(delay));
      delay = Math.min(delay * POLL_FACTOR, POLL_MAX_MS);
    }
    if (state.following !== id) return;
    try {
      run = longPoll ? await waitForRun(state.session, run) : await getRun(state.session, id);
    } catch (error) {
      if (error.sessionEnded || state.following !== id) return;
      if (error.retryable) {
        if (!troubled) announce(`Lost touch with run #${id}; still trying…`);
        troubled = true;
        continue;
      }
      announce(`Run #${id} can no longer be followed.`);
      showError(`Run #${id} can no longer be followed.`, error);
      return;
    }
    if (state.following !== id) return;
    troubled = false;
    progress = progressOf(run);
    if (FINISHED.includes(run.state) && finishedAt === null) finishedAt = performance.now();
    if (!progress.done && finishedAt !== null && performance.now() - finishedAt > POST_BACK_WAIT_MS) {
      progress = { done: true, reported: progress.reported };
    }
    showRun(run, progress);
    if (run.state !== lastState && !progress.done) {
      lastState = run.state;
      announce(`Run #${id}: ${RUN_STATE_TEXT[run.state] || "recorded"}`);
    }
  }
  state.following = null;
  announce(`Run #${id} ended: ${RUN_STATE_TEXT[run.state] || "recorded"}.`);
  reveal($("lnr-result-title") || els.runTitle, els.runTitle); // the run's state, then its result
  loadContext({ quiet: true }); // the earlier runs and escalations have changed
}

// -- start -------------------------------------------------------------------------------

function readDataBlock() {
  const block = $("lnr-session");
  if (!block) return null;
  try {
    const data = JSON.parse(block.textContent);
    block.remove(); // the token lives in memory from here on, not in the document
    return data && typeof data.token === "string" ? data : null;
  } catch {
    return null;
  }
}

function main() {
  learnWorkflowNames([...els.workflow.options].map((o) => [o.value, o.textContent]));
  els.planForm.addEventListener("submit", onShowPlan);
  els.workflow.addEventListener("change", () => showFieldsOf(els.workflow.value));
  els.planForm.addEventListener("input", onFormEdited);
  els.planForm.addEventListener("change", onFormEdited);
  showFieldsOf(els.workflow.value);

  const data = readDataBlock();
  if (!data) {
    els.main.setAttribute("aria-busy", "false");
    announce("The app could not start.");
    showError("The app could not start: the page carries no session.",
              { message: "Reload the app to try again." });
    return;
  }
  state.session = createSession(data, { onEnded: sessionEnded });
  const host = detectHost(data);
  els.main.dataset.host = host.kind;
  host.fit(els.main);
  start(host).finally(syncButtons);
}

main();
