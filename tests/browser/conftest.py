"""Every browser test runs against two servers, and fails on any content-security-policy violation.

- ``embedded``: pytest-django's live server in this process (the SQLite pass of make test);
- ``production``: the real stack, gunicorn + worker + inference on PostgreSQL and Redis
  (tests/web/production_stack.py; make test's PostgreSQL pass).

Each pass runs the variant it can: the PostgreSQL pass leaves the embedded one to the SQLite pass, and the
SQLite pass cannot run the stack. Every page a test opens reports the policy's violations (blocked inline
styles, scripts, handlers, foreign sources) to the console; the test fails on any of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Chromium logs violations itself; the listener also reports the ones it might not (e.g. in report-only).
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) => console.error(
  `Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
  `at ${e.sourceFile}:${e.lineNumber}`));"""


@pytest.fixture(params=["embedded", "production"])
def server(request: pytest.FixtureRequest) -> str:
    """The base URL of the site under test, in each mode."""
    from django.db import connection

    if request.param == "embedded":
        if connection.vendor == "postgresql":
            pytest.skip("the embedded variant runs in the SQLite pass; this pass runs the production stack")
        return str(request.getfixturevalue("live_server").url)
    return str(request.getfixturevalue("stack").url)


@pytest.fixture(autouse=True)
def csp_violations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Watch every page the test's browser opens; fail the test on a content-security-policy violation."""
    sync_api = pytest.importorskip("playwright.sync_api")
    seen: list[str] = []

    def note(message: object) -> None:
        text = getattr(message, "text", "")
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            seen.append(text)

    def watch(target):  # type: ignore[no-untyped-def]  (a Playwright Page or BrowserContext)
        target.add_init_script(REPORT_VIOLATIONS)
        target.on("console", note)
        return target

    new_context, new_page = sync_api.Browser.new_context, sync_api.Browser.new_page
    monkeypatch.setattr(sync_api.Browser, "new_context", lambda self, *a, **k: watch(new_context(self, *a, **k)))
    monkeypatch.setattr(sync_api.Browser, "new_page", lambda self, *a, **k: watch(new_page(self, *a, **k)))
    yield seen
    assert not seen, "the content security policy blocked:\n" + "\n".join(dict.fromkeys(seen))
