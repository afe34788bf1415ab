"""The sidebar's front end without a browser: the page's markup, its static assets and the
CSP that must allow exactly them, the optional ticket_id of POST /sidebar, static guards on
the scripts (no HTML from strings, no storage), and the Zendesk app package in zendesk_app/.

Browser tests drive the page itself; these pin what they rely on (the ids below).
"""
from __future__ import annotations

import json
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import responses

from helpdesk_app import create_app
from helpdesk_app.settings import Settings
from helpdesk_app.storage.migrate import upgrade
from helpdesk_app.web import services_of
from tests.app.test_settings import UPSTREAM_ENV
from tests.sidebar_auth import mock_agent, zendesk_app_jwt
from workflows.labels import WORKFLOW_NAMES

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "helpdesk_app" / "static" / "sidebar"
APP_PACKAGE = ROOT / "zendesk_app"
USER = 9000
ZAF_ORIGIN = "https://static.zdassets.com"
ZAF_SDK = f"{ZAF_ORIGIN}/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"
JS_TYPES = {"text/javascript", "application/javascript"}  # both run as module scripts
SCRIPTS = sorted(p.name for p in STATIC.glob("*.js"))

# What browser tests drive: (element id, data-testid) in the page's static markup.
STATIC_CONTROLS = [
    ("lnr-ticket", "ticket-label"),
    ("lnr-status", "status"),
    ("lnr-error", "error"),
    ("lnr-context", "context"),
    ("lnr-triage", "triage"),
    ("lnr-runs", "earlier-runs"),
    ("lnr-escalations", "open-escalations"),
    ("lnr-plan-form", "plan-form"),
    ("lnr-workflow", "workflow-select"),
    ("lnr-subscription", "subscription-input"),
    ("lnr-namespace", "namespace-input"),
    ("lnr-customer", "customer-input"),
    ("lnr-gitlab_user", "gitlab-user-input"),
    ("lnr-show-plan", "show-plan-button"),
    ("lnr-plan", "plan"),
    ("lnr-run", "run"),
    ("lnr-run-status", "run-status"),
    ("lnr-run-events", "run-events"),
    ("lnr-waiting", "waiting"),
    ("lnr-timeline", "timeline"),
    ("lnr-workflow-hint", "workflow-hint"),
    ("lnr-result", "result"),
    ("lnr-escalation-link", "escalation-link"),
]
# Built by the script; their test ids must appear in it.
SCRIPT_TESTIDS = ["decision", "next-step", "deciding-checks", "check", "check-id", "passed-checks",
                  "blocked-reason", "noop-message", "confirm-form", "reason-input",
                  "reason-error", "confirm-button", "confirm-refused", "override-confirmer",
                  "plan-stale", "confirmed", "outcome", "failure", "note-status",
                  "run-event", "triage-findings", "triage-named", "triage-recommended",
                  "plan-suggested", "earlier-run", "open-escalation", "error-message", "error-code",
                  "error-action"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('sidebar-assets') / 'helpdesk.db'}"
    upgrade(url)
    app = create_app(Settings.from_env({**UPSTREAM_ENV, "DATABASE_URL": url}))
    yield app
    services_of(app).db.kw["bind"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def zendesk():
    """Zendesk's API; a request not registered fails the test. (The app caches the agent it
    read, so a registered read may go unused.)"""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def open_sidebar(client, zendesk, *, query: str = "", **form):
    mock_agent(zendesk, USER)
    return client.post(f"/sidebar{query}", data={"token": zendesk_app_jwt(USER), **form})


class Markup(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script> and <style>."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.bodies: dict[int, str] = {}
        self._open: int | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = len(self.tags) - 1
            self.bodies[self._open] = ""

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self.bodies[self._open] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def by_id(self, element_id: str) -> tuple[str, dict[str, str | None]]:
        (found,) = [(name, attrs) for name, attrs in self.tags if attrs.get("id") == element_id]
        return found


@pytest.fixture
def page(client, zendesk):
    response = open_sidebar(client, zendesk)
    assert response.status_code == 200
    return response


def csp_of(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        assert name not in directives
        directives[name] = sources
    return directives


def data_block(response) -> dict:
    (block,) = re.findall(r'<script type="application/json" id="lnr-session">(.*?)</script>',
                          response.get_data(as_text=True), re.DOTALL)
    return json.loads(block)


# -- the static assets -----------------------------------------------------------------------


def test_the_sidebar_has_its_scripts_and_stylesheet():
    assert {"sidebar.js", "api.js", "render.js", "host.js"} <= set(SCRIPTS)
    assert (STATIC / "sidebar.css").is_file()


@pytest.mark.parametrize("name", [*SCRIPTS, "sidebar.css"])
def test_each_asset_is_served_with_its_content_type(client, name):
    response = client.get(f"/static/sidebar/{name}")

    assert response.status_code == 200
    expected = {"text/css"} if name.endswith(".css") else JS_TYPES
    assert response.mimetype in expected
    assert response.mimetype_params.get("charset", "utf-8").lower() == "utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == (STATIC / name).read_bytes()


def test_the_page_references_its_stylesheet_module_and_the_zaf_sdk(client, page):
    markup = Markup(page.get_data(as_text=True))

    assert [a.get("href") for a in markup.all("link") if a.get("rel") == "stylesheet"] == [
        "/static/sidebar/sidebar.css"]
    scripts = [a for a in markup.all("script") if "src" in a]
    assert [(a["src"], a.get("type")) for a in scripts] == [
        (ZAF_SDK, None), ("/static/sidebar/sidebar.js", "module")]
    assert "defer" in scripts[0]  # runs before the (deferred) module, after parsing
    for a in scripts[1:]:
        assert client.get(a["src"]).status_code == 200


def imports_of(source: str) -> list[str]:
    return re.findall(r"""(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']""", source)


def test_every_module_the_page_imports_is_a_served_sibling(client):
    seen, todo = set(), ["sidebar.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for specifier in imports_of((STATIC / name).read_text()):
            # No bare (npm) specifiers, no other origins: siblings served from 'self'.
            assert re.fullmatch(r"\./[a-z_]+\.js", specifier), (name, specifier)
            todo.append(specifier.removeprefix("./"))
    assert seen == set(SCRIPTS)  # every script is used, and every one used is there
    for name in seen:
        assert client.get(f"/static/sidebar/{name}").mimetype in JS_TYPES


# -- the CSP and the markup ------------------------------------------------------------------


def test_the_csp_allows_exactly_the_page_s_own_assets_and_the_zaf_sdk(page):
    csp = csp_of(page)

    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'", ZAF_ORIGIN]
    assert csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["https://acme.zendesk.com"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    sources = [s for values in csp.values() for s in values]
    for source in sources:  # nothing loose anywhere: no unsafe-*, nonce, hash, scheme or wildcard
        assert not source.startswith(("'unsafe-", "'strict-dynamic'", "'nonce-", "'sha")), source
        assert source not in ("http:", "https:") and "*" not in source, source


def test_every_script_and_stylesheet_of_the_page_is_allowed_by_the_csp(page):
    csp = csp_of(page)
    markup = Markup(page.get_data(as_text=True))

    def allowed(url: str, sources: list[str]) -> bool:
        if url.startswith("/") and not url.startswith("//"):
            return "'self'" in sources
        return any(s.startswith("https://") and url.startswith(s + "/") for s in sources)

    for a in markup.all("script"):
        if "src" in a:
            assert allowed(a["src"], csp["script-src"]), a
    for a in markup.all("link"):
        assert allowed(a["href"], csp["style-src"]), a


def test_the_page_has_no_inline_script_style_or_handler(page):
    text = page.get_data(as_text=True)
    markup = Markup(text)

    for index, (tag, attrs) in enumerate(markup.tags):
        assert tag != "style"
        assert "style" not in attrs, (tag, attrs)
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for value in attrs.values():
            assert not (value or "").strip().lower().startswith("javascript:")
        if tag == "script":
            if attrs.get("type") == "application/json":
                assert attrs.get("id") == "lnr-session"  # data, never executed
            else:
                assert attrs.get("src") and markup.bodies[index] == "", attrs
    assert "javascript:" not in text


@pytest.mark.parametrize("element_id, testid", STATIC_CONTROLS)
def test_the_controls_browser_tests_drive_are_in_the_markup(page, element_id, testid):
    _, attrs = Markup(page.get_data(as_text=True)).by_id(element_id)
    assert attrs.get("data-testid") == testid


def test_every_form_control_has_a_label_and_status_is_announced(page):
    markup = Markup(page.get_data(as_text=True))
    labelled = {a.get("for") for a in markup.all("label")}

    for tag in ("input", "select", "textarea"):
        for attrs in markup.all(tag):
            assert attrs["id"] in labelled, attrs
    _, status = markup.by_id("lnr-status")
    assert status.get("role") == "status" and status.get("aria-live") == "polite"
    _, error = markup.by_id("lnr-error")
    assert error.get("role") == "alert" and error.get("tabindex") == "-1"
    workflows = [a.get("value") for a in markup.all("option")]
    assert workflows == ["associate", "force_associate", "clear_subscription", "unlink_account",
                         "link_account"]
    # Each under its one name (workflows/labels.py), never its key.
    names = re.findall(r'<option value="[a-z_]+">([^<]+)</option>', page.get_data(as_text=True))
    assert names == [WORKFLOW_NAMES[w] for w in workflows]
    _, button = markup.by_id("lnr-show-plan")
    assert button.get("type") == "submit"


def test_the_test_ids_the_script_builds_are_in_it():
    source = "\n".join((STATIC / name).read_text() for name in SCRIPTS)
    for testid in SCRIPT_TESTIDS:
        assert re.search(rf"""testid:?\s*["']{re.escape(testid)}["']|testid = ["']{re.escape(testid)}["']""",
                         source), testid
    for data_attribute in ("checkId", "verdict", "decision", "outcome", "state"):
        assert data_attribute in source


# -- ticket_id of POST /sidebar --------------------------------------------------------------


def test_without_ticket_id_the_data_block_says_none(page):
    assert data_block(page)["ticket_id"] is None


@pytest.mark.parametrize("query, form", [
    ("", {"ticket_id": "35436"}),
    ("?ticket_id=35436", {}),
    ("?origin=https%3A%2F%2Facme.zendesk.com&app_guid=abc&ticket_id=35436", {}),
    ("?ticket_id=35436", {"ticket_id": "35436"}),
])
def test_a_ticket_id_goes_into_the_data_block(client, zendesk, query, form):
    response = open_sidebar(client, zendesk, query=query, **form)

    assert response.status_code == 200
    assert data_block(response)["ticket_id"] == 35436


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", "1e3", "9223372036854775808"])
def test_a_ticket_id_that_is_not_a_positive_integer_is_400(client, zendesk, value):
    for query, form in ((f"?ticket_id={value}", {}), ("", {"ticket_id": value})):
        response = client.post(f"/sidebar{query}", data={"token": zendesk_app_jwt(USER), **form})

        assert response.status_code == 400 and response.mimetype == "application/json"
        error = response.get_json()["error"]
        assert error["code"] == "bad_input" and error["field"] == "ticket_id" and error["message"]
        assert response.headers["Cache-Control"] == "no-store"
    assert not zendesk.calls  # refused before the agent is read


def test_a_ticket_id_that_differs_between_form_and_query_is_400(client, zendesk):
    response = client.post("/sidebar?ticket_id=1", data={"token": zendesk_app_jwt(USER), "ticket_id": "2"})

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "ticket_id"


def test_the_ticket_id_is_checked_after_the_token(client, zendesk):
    response = client.post("/sidebar", data={"token": "not-a-jwt", "ticket_id": "abc"})

    assert response.status_code == 401


# -- the scripts: static guards --------------------------------------------------------------


def code_of(source: str) -> str:
    """The source without its comments (a rough cut: enough for these guards)."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"(?m)(^|[^:\\])//.*$", r"\1", source)


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_scripts_never_turn_strings_into_markup_or_code(name):
    code = code_of((STATIC / name).read_text())

    for sink in (r"\.innerHTML\b", r"\.outerHTML\b", r"\binsertAdjacentHTML\b",
                 r"\bdocument\.write(ln)?\b", r"\beval\s*\(", r"\bnew\s+Function\b",
                 r"\bcreateContextualFragment\b", r"\bsrcdoc\b", r"\bDOMParser\b",
                 r"\bset(Timeout|Interval)\s*\(\s*[\"'`]"):
        assert not re.search(sink, code), (name, sink)


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_scripts_keep_the_session_out_of_storage_and_urls(name):
    code = code_of((STATIC / name).read_text())

    for sink in (r"\blocalStorage\b", r"\bsessionStorage\b", r"\bindexedDB\b",
                 r"\bdocument\.cookie\b", r"\bhistory\.(push|replace)State\b"):
        assert not re.search(sink, code), (name, sink)
    # Requests go to the service's own API, by path; nothing else is fetched.
    for url in re.findall(r"fetch\(\s*([^,)]+)", code):
        assert url.strip() == "path", (name, url)
    for path in re.findall(r"""["'`](/[A-Za-z][^"'`]*)["'`]""", code):
        assert path.startswith("/api/v1/"), (name, path)


def test_the_stylesheet_loads_nothing_from_elsewhere():
    css = (STATIC / "sidebar.css").read_text()

    assert "@import" not in css and "expression(" not in css
    for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
        assert url.startswith("data:"), url


# -- the Zendesk app package -----------------------------------------------------------------


def manifest() -> dict:
    return json.loads((APP_PACKAGE / "manifest.json").read_text())


def translations() -> dict:
    return json.loads((APP_PACKAGE / "translations" / "en.json").read_text())


def test_the_manifest_puts_a_signed_flexible_page_in_the_ticket_sidebar(app):
    m = manifest()

    assert m["frameworkVersion"] == "2.0" and m["defaultLocale"] == "en" and m["private"] is True
    assert m["name"] and m["version"] and {"name", "email"} <= set(m["author"])
    assert m["location"] == {"support": {"ticket_sidebar": {
        "url": "{{setting.service_url}}/sidebar", "flexible": True, "signed": True},
        # The admins' page of failures (web/operators.py), signed the same way.
        "nav_bar": {"url": "{{setting.service_url}}/operators", "signed": True}}}
    assert "signedUrls" not in m  # the older, app-wide form; the location says it
    # The URL's path is the service's page route, taking Zendesk's POST.
    rule = next(r for r in app.url_map.iter_rules() if r.rule == "/sidebar")
    assert "POST" in rule.methods


def test_the_manifest_parameters_are_labelled_in_english():
    parameters = manifest()["parameters"]
    labels = translations()["app"]["parameters"]

    assert [p["name"] for p in parameters] == ["service_url"]
    (service_url,) = parameters
    assert service_url["required"] is True and service_url["secure"] is False
    assert service_url["type"] == "url"
    for p in parameters:
        # Zendesk's parameter types; `name` and `shared_secret` are names to keep clear of.
        assert p["type"] in {"text", "password", "checkbox", "url", "number", "multiline", "hidden"}
        assert p["name"] not in {"name", "shared_secret"}
        assert labels[p["name"]]["label"] and labels[p["name"]]["helpText"]


def test_the_english_translations_describe_the_app():
    app_text = translations()["app"]

    for key in ("name", "short_description", "long_description", "installation_instructions"):
        assert isinstance(app_text[key], str) and app_text[key].strip(), key
    assert app_text["name"] == manifest()["name"]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, after checking its signature, chunks and pixel data."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks, idat = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks.append(kind)
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    ihdr = data[16:29]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    assert (depth, colour, interlace) == (8, 6, 0)  # 8-bit RGBA, not interlaced
    assert len(zlib.decompress(idat)) == height * (1 + 4 * width)
    return width, height


@pytest.mark.parametrize("name, size", [("logo.png", 320), ("logo-small.png", 128)])
def test_the_logos_are_pngs_of_the_documented_sizes(name, size):
    assert png_size(APP_PACKAGE / "assets" / name) == (size, size)
