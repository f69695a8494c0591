"""The content security policy (django-csp) and who may frame the site's pages.

The policy allows what the site itself serves and nothing inline: scripts and styles come from its own
static files (token shading is a class per level, see site.css), so injected markup can neither run script
nor restyle a page. ``/embed/`` pages exist to be shown inside other sites: they may be framed by any site
(``frame-ancestors *`` and no X-Frame-Options); every other page may be framed by none.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

EMBED_PREFIX = "/embed/"
SELF = "'self'"
NONE = "'none'"

# Where a social sign-in's form redirects the browser (Chrome applies form-action to redirects too).
SIGN_IN_ORIGINS = {"github": "https://github.com", "google": "https://accounts.google.com",
                   "apple": "https://appleid.apple.com"}


def policy(providers: list[str]) -> dict[str, object]:
    """django-csp's CONTENT_SECURITY_POLICY for the site, with the sign-in origins of ``providers``."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF],
            "style-src": [SELF],
            "img-src": [SELF, "data:"],  # data: for the empty favicon of every page
            "font-src": [SELF],
            "connect-src": [SELF],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF, *(SIGN_IN_ORIGINS[p] for p in providers if p in SIGN_IN_ORIGINS)],
            "frame-ancestors": [NONE],
        },
    }


def is_embed(request: HttpRequest) -> bool:
    return request.path_info.startswith(EMBED_PREFIX)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; ``/embed/`` pages may be framed by any site.

    It must come after Django's XFrameOptionsMiddleware in MIDDLEWARE, so that it sees the response first
    and can exempt ``/embed/`` pages from X-Frame-Options.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if is_embed(request):
            # Read by XFrameOptionsMiddleware, which sees the response after this middleware.
            response.xframe_options_exempt = True
        return super().process_response(request, response)

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase,
                         report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if is_embed(request) and not report_only:
            parts.replace = {**(parts.replace or {}), "frame-ancestors": ["*"]}
        return parts
