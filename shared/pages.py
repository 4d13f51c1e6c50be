"""Server-rendered pages: the login cookie, page access checks, the common layout.

Pages authenticate with the same signed token as the API, carried in an HttpOnly
cookie set by the identity service's login page, so every service verifies a page
visitor exactly as it verifies an API caller. Forms are protected against CSRF by
Flask-WTF (the API, which takes bearer tokens only, is exempt).
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from urllib.parse import quote, urlencode

from flask import abort, current_app, g, redirect, request

from shared.auth import ROLES, Principal, check_revocation, verified_principal
from shared.web import ApiError

log = logging.getLogger(__name__)

COOKIE = "nws_session"
LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"     # served at /static/ by every web process

ROLE_LABELS = {
    "applicant": "申請者",
    "forwarder": "経由機関",
    "primary_reviewer": "一次審査者",
    "secondary_reviewer": "二次審査者",
    "operator": "運用管理者",
}


def attachment_href(app_id: int, ref: str) -> str:
    """Where a page visitor downloads an application's attachment (intake serves it to
    every page, whichever service rendered the link)."""
    return f"/intake/applications/{int(app_id)}/attachments/{quote(str(ref), safe='')}"


def file_size(size: int | None) -> str:
    """A byte count as pages show it: 「1.2 MB」, 「35.0 KB」, 「512 バイト」."""
    size = int(size or 0)
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):,.1f} MB"
    if size >= 1024:
        return f"{size / 1024:,.1f} KB"
    return f"{size:,} バイト"


def page_principal() -> Principal | None:
    """The logged-in visitor of a page, or None (no cookie, or an expired, invalid or
    revoked one, or a disabled account's). When the revocation state cannot be had,
    None too, and :func:`require_page` answers 503."""
    if "page_principal" in g:
        return g.page_principal
    token = request.cookies.get(COOKIE)
    principal = None
    if token:
        try:
            principal = verified_principal(token)
            check_revocation(principal)
        except ApiError as exc:
            principal = None
            if exc.status == 503:
                g.page_auth_error = exc
    g.page_principal = principal
    return principal


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after login."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def require_page(*roles: str) -> Callable:
    """A page for logged-in accounts with one of ``roles`` (all if none): anonymous
    visitors go to the login page, other roles get 403."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = page_principal()
            if principal is None and g.get("page_auth_error") is not None:
                raise g.page_auth_error
            if principal is None:
                # A fixed path: in the distributed suite the login page is another
                # process's, reached through the gateway.
                return redirect(f"{LOGIN_PATH}?{urlencode({'next': request.full_path.rstrip('?')})}")
            if roles and principal.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.nws_auth = roles or ROLES  # type: ignore[attr-defined]
        return wrapper

    return decorate


def init_pages(app) -> None:
    """Common layout, CSRF protection, and template globals for every page."""
    from flask_wtf.csrf import CSRFProtect
    from jinja2 import ChoiceLoader, FileSystemLoader

    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(TEMPLATES))])
    # Pages (everything outside /api/) are checked; the API takes bearer tokens only,
    # never the cookie, so it needs no CSRF token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    csrf = CSRFProtect(app)

    @app.before_request
    def _csrf():
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and not (
                request.path.startswith("/api/")):
            csrf.protect()

    add_template_vocabulary(app.jinja_env)
    app.extensions[UNREAD_CACHE] = RecentValues(UNREAD_CACHE_SECONDS)

    @app.context_processor
    def _globals():
        return {"principal": page_principal(), "role_labels": ROLE_LABELS,
                "logout_path": LOGOUT_PATH, "unread_notifications": unread_notifications}


UNREAD_COUNTER = "nws.unread_count"   # app extension: account id -> unread notices
UNREAD_CACHE = "nws.unread_cache"     # app extension: the remote counts, kept a moment
# How long a web process without the identity service keeps an account's unread count
# (or that it could not be had) before asking identity's API again: a page no longer
# waits for a call to identity on every render (bench/README.md, "Latency under load").
UNREAD_CACHE_SECONDS = 10.0


class RecentValues:
    """Values kept for ``seconds`` (at most ``size`` of them; the oldest go first)."""

    def __init__(self, seconds: float, size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._values: dict = {}
        self._lock = threading.Lock()

    def get(self, key, compute: Callable[[], object]):
        now = self.clock()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] < self.seconds:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._values) >= self.size:
                for old in list(self._values)[: self.size // 10 or 1]:
                    self._values.pop(old, None)
            self._values.pop(key, None)
            self._values[key] = (now, value)
        return value


def unread_notifications() -> int | None:
    """The visitor's unread notices for the page header: asked in-process when this
    process runs the identity service (it registers :data:`UNREAD_COUNTER`), else from
    identity's API (``NWS_IDENTITY_URL``) with the visitor's own token. None when it
    cannot be had: the header then shows the link without a number."""
    principal = page_principal()
    if principal is None:
        return None
    if "unread_notifications" in g:
        return g.unread_notifications
    count = None
    counter = current_app.extensions.get(UNREAD_COUNTER)
    identity_url = current_app.extensions["nws.runtime"].settings.identity_url
    if counter is not None:
        count = _unread(lambda: counter(principal.account_id))
    elif identity_url:
        # another process's answer: kept a few seconds (UNREAD_CACHE_SECONDS), failures too
        token = request.cookies.get(COOKIE, "")
        count = current_app.extensions[UNREAD_CACHE].get(
            principal.account_id, lambda: _unread(lambda: _remote_unread(identity_url, token)))
    g.unread_notifications = count
    return count


def _unread(ask: Callable[[], int]) -> int | None:
    try:
        return ask()
    except Exception as exc:        # the header must not break the page
        log.warning("unread notifications not available: %s", exc)
        return None


def _remote_unread(identity_url: str, token: str) -> int:
    import json
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(identity_url.rstrip("/") + "/api/auth/notifications/unread",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Accept": "application/json"})
    with opener.open(req, timeout=1.0) as res:
        return int(json.loads(res.read())["unread"])


def finding_location(location: str | None, code: str | None = None) -> str:
    """A finding's location as the page shows it: in Japanese (``formview.location_label``
    over the installed forms), never a field path. A location that is Japanese already
    (the print view labels its own) is shown as it is."""
    from shared.formview import location_label
    from shared.pluginmanager import form_specs
    from shared.service import plugins

    text = str(location or "")
    if text and not text.isascii():
        return text
    return location_label(text, form_specs(plugins()), code)


def finding_message(finding: Any) -> str:
    """A finding's message as pages show it: a schema finding names its field by the
    Japanese labels and then, for the API's readers, by its path in brackets
    (「通常連絡先 1 行目 電話番号（normal_contacts.0.phone）: …」, shared.forms.schema_findings);
    the page leaves the path out."""
    from shared.webform import plain_message

    get = finding.get if isinstance(finding, dict) else (lambda k: getattr(finding, k, None))
    message = str(get("message") or "")
    return plain_message(message) if str(get("rule") or "").endswith(".schema") else message


def field_label(key: Any) -> str:
    """A stored field's Japanese label (``formview.field_labels`` of the installed forms,
    then the suite's own names); an unknown name is shown as it is."""
    from shared import vocabulary
    from shared.formview import field_labels
    from shared.pluginmanager import form_specs
    from shared.service import plugins

    labels = current_app.extensions.get("nws.field_labels")
    if labels is None:
        labels = {**vocabulary.FIELD_LABELS, **field_labels(form_specs(plugins()))}
        current_app.extensions["nws.field_labels"] = labels
    return labels.get(str(key), str(key))


def add_template_vocabulary(env) -> None:
    """What every template may use: the Japanese names of statuses, kinds and other
    stored values (``NWS_STATUS``, ``NWS_KIND``, ``NWS_VALUE``, ``NWS_EVENT``), ``{{ moment|jst }}``
    (2026/04/01 09:30 in Japan time; label the column 「（日本時間）」),
    ``{{ size|file_size }}``, ``attachment_href(app_id, ref)``,
    ``finding_location(location, code)`` (a finding's place in Japanese),
    ``finding_message(finding)`` (its message without a field path) and
    ``field_label(key)`` (a stored field's Japanese name). A page shows no field path,
    code or English word of the code: tests/e2e/test_accessibility_crawl.py checks.
    For the pages' environment and the print view's own."""
    from shared import vocabulary
    from shared.jst import jst_minutes

    env.globals.update(NWS_STATUS=vocabulary.STATUS_LABELS, NWS_KIND=vocabulary.KIND,
                       NWS_VALUE=vocabulary.VALUE_LABELS, NWS_EVENT=vocabulary.HISTORY_EVENTS,
                       attachment_href=attachment_href, finding_location=finding_location,
                       finding_message=finding_message,
                       field_label=field_label)
    env.filters.update(jst=jst_minutes, file_size=file_size)


def html_errors(bp) -> None:
    """Answer a page blueprint's errors with the Japanese error page, not JSON."""
    from flask import render_template
    from werkzeug.exceptions import HTTPException

    from shared.web import HTTP_MESSAGES

    def error_page(exc: Exception):
        if isinstance(exc, ApiError):
            details = exc.details if isinstance(exc.details, list) else None
            return render_template("error.html", title="エラー", message=exc.message,
                                   details=details), exc.status
        status = getattr(exc, "code", 500) or 500
        return render_template("error.html", title="エラー",
                               message=HTTP_MESSAGES.get(status, "エラーが発生しました。")), status

    bp.register_error_handler(ApiError, error_page)
    bp.register_error_handler(HTTPException, error_page)
