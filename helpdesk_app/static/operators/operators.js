// The admins' page of failures (helpdesk_app/web/operators.py): GET /api/v1/failures, and
// a Requeue button per run and delivery (POST /api/v1/failures/{kind}/{id}/requeue).
// The session token stays in this module's memory (architecture.md, "A sidebar action");
// every value from the service goes in with textContent, never as markup.

const session = JSON.parse(document.getElementById("lnr-session").textContent);
const status = document.getElementById("lnr-status");

async function call(method, path) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" },
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) throw new Error("The session ended: open the page again from Zendesk.");
  if (!response.ok) throw new Error(body?.error?.message || `The service answered ${response.status}.`);
  return body;
}

function errorOf(lastError) {
  if (!lastError) return "";
  return lastError.message || JSON.stringify(lastError);
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  row.append(td);
  return td;
}

function fill(sectionId, items, columns, kind) {
  const section = document.getElementById(sectionId);
  const body = section.querySelector("tbody");
  body.replaceChildren();
  for (const item of items) {
    const row = document.createElement("tr");
    for (const column of columns) cell(row, column(item));
    const actions = cell(row, "");
    if (kind) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "lnr-button";
      button.textContent = "Requeue";
      button.addEventListener("click", () => requeue(kind, item.id, button));
      actions.append(button);
    }
    body.append(row);
  }
  section.querySelector(".lnr-empty").hidden = items.length > 0;
  section.querySelector("table").hidden = items.length === 0;
}

async function load() {
  try {
    const failures = await call("GET", "/api/v1/failures");
    fill("lnr-failed-runs", failures.runs, [
      (r) => `#${r.id}`, (r) => r.workflow, (r) => String(r.ticket_id), (r) => r.state,
      (r) => String(r.attempts), (r) => r.message || errorOf(r.last_error)], "run");
    fill("lnr-dead-deliveries", failures.deliveries, [
      (d) => `#${d.id}`, (d) => d.source, (d) => d.delivery_key, (d) => String(d.attempts),
      (d) => errorOf(d.last_error)], "delivery");
    fill("lnr-overdue-escalations", failures.escalations, [
      (e) => `#${e.id}`, (e) => String(e.ticket_id), (e) => e.workflow, (e) => e.created_at,
      (e) => e.issue_url || ""], null);
    status.textContent = "Up to date.";
  } catch (error) {
    status.textContent = error.message;
  }
}

async function requeue(kind, id, button) {
  button.disabled = true;
  try {
    const done = await call("POST", `/api/v1/failures/${kind}/${id}/requeue`);
    status.textContent = `Sent ${kind} #${id} back (${done.from} → ${done.to}).`;
    await load();
  } catch (error) {
    status.textContent = error.message;
    button.disabled = false;
  }
}

load();
