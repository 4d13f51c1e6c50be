"""Security headers on every response of every service — API, pages, error answers and
static files — and the attributes of the cookies the suite sets, with the ``secure``
library.

The Content-Security-Policy allows no inline script and no inline style: the pages have
no inline ``<script>`` (a few load a file from ``/static/``), and their one style sheet
is ``/static/nws.css`` (templates carry no ``<style>`` element, no ``style=""`` attribute and no ``on…=`` handler;
``tests/test_security_headers.py`` checks). Framing is refused twice
(``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``). HSTS is sent only on a
request that came over TLS: ``request.is_secure``, which behind the gateway reflects its
``X-Forwarded-Proto`` only where the web process trusts the gateway
(``NWS_TRUSTED_PROXY``, see ``nws web``).
"""
from __future__ import annotations

import secure
from flask import Flask, request

#: what a page may load: its own origin only (and data: images)
CSP = (secure.ContentSecurityPolicy()
       .default_src("'self'")
       .script_src("'self'")
       .style_src("'self'")
       .img_src("'self'", "data:")
       .font_src("'self'")
       .connect_src("'self'")
       .object_src("'none'")
       .base_uri("'none'")
       .form_action("'self'")
       .frame_ancestors("'none'"))
HSTS_MAX_AGE = 365 * 24 * 3600

_EVERYWHERE = dict(csp=CSP, xfo=secure.XFrameOptions().deny(),
                   xcto=secure.XContentTypeOptions().nosniff(),
                   referrer=secure.ReferrerPolicy().same_origin())
PLAIN = secure.Secure(**_EVERYWHERE)
OVER_TLS = secure.Secure(**_EVERYWHERE,
                         hsts=secure.StrictTransportSecurity().max_age(HSTS_MAX_AGE))
# The (name, value) pairs, serialised once: the policies never change while the process
# runs, and ``Secure.set_headers`` would build every value again on every response.
_PLAIN_ITEMS = tuple(PLAIN.header_items())
_OVER_TLS_ITEMS = tuple(OVER_TLS.header_items())


def init_headers(app: Flask, *, cookie_secure: bool) -> None:
    """Headers on every response of ``app``; HttpOnly, SameSite=Lax cookies, Secure when
    ``cookie_secure`` (``NWS_COOKIE_SECURE``)."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,        # Flask's session: flashes and the CSRF token
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cookie_secure,
        NWS_COOKIE_SECURE=cookie_secure,     # the login cookie (identity's pages)
    )

    @app.after_request
    def _security_headers(response):
        put = response.headers.set        # replaces, as Secure.set_headers does
        for name, value in (_OVER_TLS_ITEMS if request.is_secure else _PLAIN_ITEMS):
            put(name, value)
        return response
