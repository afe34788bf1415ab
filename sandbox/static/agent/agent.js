// The sandbox's agent page (sandbox/agent_page.py). A file of its own because the
// page's Content-Security-Policy runs no inline script.

// Zendesk loads a signed-URL app with a POST carrying its token: the sidebar form does the
// same into the iframe, once the page is parsed.
const sidebarForm = document.getElementById("sidebar-form");
if (sidebarForm) sidebarForm.submit();

// Switching the agent reloads the page with a token for that agent.
const agentSelect = document.getElementById("agent-select");
if (agentSelect) agentSelect.addEventListener("change", () => agentSelect.form.submit());

// The ticket's notes, status and escalations change while the page is open (triage, runs,
// an engineer closing an issue): fetch that part again every few seconds and swap it in
// when its version changed. The HTML is the server's, escaped by its templates.
const REFRESH_MS = 3000;
const live = document.getElementById("ticket-live");
if (live) {
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(live.dataset.refreshUrl, { cache: "no-store", credentials: "same-origin" });
      const version = response.headers.get("X-Live-Version");
      if (!response.ok || !version || version === live.dataset.version) return;
      live.innerHTML = await response.text();
      live.dataset.version = version;
    } catch {
      // The service restarting: the next round tries again.
    }
  }, REFRESH_MS);
}
