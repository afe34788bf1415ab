"""Response headers shared by the service's HTML pages and static assets."""
from __future__ import annotations

from flask import Response, request


def private_page(response: Response, csp: str) -> Response:
    """A page that may carry a session or sidebar token: its CSP, never cached, no referrer."""
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def static_nosniff(response: Response) -> Response:
    """Scripts and stylesheets are taken for exactly what they say they are."""
    if request.endpoint and (request.endpoint == "static" or request.endpoint.endswith(".static")):
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
