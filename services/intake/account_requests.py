"""情報共有サイト アカウント発行申請: an organisation without an account applies without
logging in, gets a receipt (number + secret token) to follow it, and, once both review
stages approved it, finds the one-time activation link of its new account there.

The request is an Application of kind "account" (one history, one numbering, and the
same review as every application); :class:`AccountRequest` keeps the receipt token's
hash and the issued account's activation link.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Callable

from dataclasses import dataclass
from typing import Iterator, Mapping

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shared import audit, listing
from shared.config import Settings
from shared.jst import jst_minutes
from shared.pages import ROLE_LABELS
from shared.service import context
from shared.vocabulary import STATUS_LABELS
from shared.db import utcnow
from shared.ratelimit import RateLimits
from shared.messaging import ServiceContext
from shared.vocabulary import status_name
from shared.web import ApiError, not_found
from services.intake import deadlines
from services.intake.applications import history, lock_application, org_of
from services.intake.models import AccountRequest, Application, FormEntry, Organisation

FORM = "account"  # the request's data travels to review as this "form"


RECEIPT_HEADER = "X-Receipt-Token"
ACTIVATION_PAGE = "/auth/activate"         # identity's page (token posted in the form)
ACTIVATION_API = "/api/auth/activate"      # POST {"token", "password"}


def check_address(limits: RateLimits, settings: Settings, address: str) -> None:
    """429 (Japanese, Retry-After) when the client address filed as many requests as
    ``NWS_ACCOUNT_REQUEST_LIMIT_ADDRESS`` allows; counts nothing (an early refusal,
    before the body is read)."""
    limits.check(settings.account_request_limit_address, "intake.account_request.address",
                 address, what=ADDRESS_WHAT)


def admit(limits: RateLimits, settings: Settings, address: str, org: str) -> None:
    """Count one request against the client address's and the organisation's limits,
    each in one atomic step of the shared storage (so twenty concurrent requests on any
    number of web processes file at most as many as the limit); 429 beyond either."""
    limits.acquire(settings.account_request_limit_address,
                   "intake.account_request.address", address, what=ADDRESS_WHAT)
    limits.acquire(settings.account_request_limit_org, "intake.account_request.org", org,
                   what=f"機関 {org} のアカウント発行申請")


ADDRESS_WHAT = "同じ接続元からのアカウント発行申請"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(ctx: ServiceContext, session: Session, body: dict,
           admit: Callable[[str], None]) -> tuple[Application, str]:
    """File the request and send it to review; returns it and the receipt token (shown
    once, stored hashed). ``admit(org_id)`` counts the request against the rate limits
    once the organisation is known to exist and may apply (refused requests do not
    count; it raises 429 beyond a limit, and the transaction stores nothing)."""
    org = org_of(session, body["org"])
    if not org.can_apply:
        raise ApiError(403, "org_cannot_apply", f"{org.name} は申請できない機関です。")
    late = deadlines.check_open(session, "account_request", org.id)
    admit(org.id)
    # Several open requests of one organisation are each reviewed and decided on their
    # own (a stranger's request must not block the real one); the rate limits below
    # bound how many can be filed.
    now = utcnow()
    app = Application(org_id=org.id, kind="account", status="draft", round=0,
                      created_by="(public)", findings=[])
    session.add(app)
    session.flush()
    app.number = f"A{now:%Y}-{app.id:06d}"
    token = secrets.token_urlsafe(24)
    session.add(AccountRequest(application_id=app.id, receipt_token_hash=_hash(token)))
    session.flush()
    _submit(ctx, session, app, body)
    _record(session, app, "account_request.filed", body)
    if late is not None:
        requester = body["requester"]
        deadlines.note_late(session, app, late,
                            {"org_id": org.id, "login": "(未発行)", "name": requester["name"],
                             "department": requester["department"]},
                            audit.Actor(str(body["login"]), "anonymous", app.org_id))
    return app, token


def resubmit(ctx: ServiceContext, session: Session, app: Application, body: dict) -> None:
    """After a 否認 the requester corrects the request (with the receipt token) and it
    goes through both stages again."""
    if app.status != "returned":
        raise ApiError(409, "not_returned",
                       f"この申請は現在「{status_name(app.status)}」のため再申請できません（否認された申請のみ再申請できます）。")
    _submit(ctx, session, app, body)
    _record(session, app, "account_request.resubmitted", body)


def _record(session: Session, app: Application, action: str, body: dict) -> None:
    """The audit log names the requester as an anonymous caller (no account yet): the
    login it asks for, its organisation, the address it came from."""
    audit.record(session, action, f"application:{app.id}",
                 {"number": app.number, "round": app.round, "login": body["login"]},
                 actor=audit.Actor(str(body["login"]), "anonymous", app.org_id),
                 subject_org=app.org_id)


def roles_for(session: Session, org: Organisation) -> list[str]:
    """The roles an organisation's account request issues: ``applicant``, and for the
    首長部局 of a 市区町村 whose 教育委員会 applies through it (経由, the rule of
    plugins/routing/route_forwarding.py) also ``forwarder``."""
    forwards = org.branch == "executive" and session.scalar(
        select(Organisation.id).where(Organisation.parent_id == org.id,
                                      Organisation.branch == "board_of_education",
                                      Organisation.kind != "都道府県").limit(1)) is not None
    return ["applicant", "forwarder"] if forwards else ["applicant"]


def _submit(ctx: ServiceContext, session: Session, app: Application, body: dict) -> None:
    org = org_of(session, app.org_id)
    requester = body["requester"]
    request = session.get(AccountRequest, app.id)
    if request is not None:
        request.requested_login = str(body["login"])[:100]
        request.requester_name = str(requester["name"])[:100]
    data = {"org": org.id, "login": body["login"], "role": "applicant",
            "roles": roles_for(session, org), "name": requester["name"], "department": requester["department"],
            "title": requester.get("title", ""), "email": requester["email"],
            "phone": requester["phone"]}
    actor = {"org_id": org.id, "login": "(未発行)", "name": requester["name"],
             "department": requester["department"]}
    now = utcnow()
    entry = next((f for f in app.forms if f.code == FORM), None)
    if entry is None:
        session.add(FormEntry(application=app, code=FORM, data=data, revision=1,
                              status="valid", findings=[], source="json"))
    else:
        entry.data, entry.revision = data, entry.revision + 1
    app.round += 1
    app.status, app.stage, app.reviewer_org_id, app.submitted_at = "submitted", None, None, now
    history(session, app, "submitted", actor=actor, org_id=org.id)
    ctx.emit(session, "review", "application.submitted", {
        "application_id": app.id, "number": app.number, "kind": "account",
        "round": app.round, "org": org.as_ref(), "catalog_version": None,
        "submitted_at": now.isoformat(), "submitted_by": actor, "forms": {FORM: data},
        "findings": []})


def by_receipt(session: Session, number: str, token: str | None) -> Application:
    """The request if the receipt token matches; 404 otherwise (a wrong token and an
    unknown number look the same)."""
    app = session.scalar(select(Application).where(Application.number == number,
                                                   Application.kind == "account"))
    request = session.get(AccountRequest, app.id) if app is not None else None
    if request is None or not token or not hmac.compare_digest(
            request.receipt_token_hash, _hash(token)):
        raise not_found("受付番号と受付トークンに一致するアカウント発行申請")
    return app


def receipt(session: Session, app: Application) -> dict:
    request = session.get(AccountRequest, app.id)
    data = next((f.data for f in app.forms if f.code == FORM), {})
    body = {"number": app.number, "status": app.status, "stage": app.stage, "org": app.org_id,
            "login_requested": data.get("login"),
            "history": [{"at": h.at.isoformat(), "event": h.event, "status": h.status,
                         "stage": h.stage, "org_id": h.org_id, "comment": h.comment}
                        for h in app.history],
            "account": None}
    body["accounts"] = []
    if request.issued_at is not None:
        expired = request.activation_expires_at <= utcnow()
        body["account"] = {
            "login": request.login, "activation_token": request.activation_token,
            # The page and the API take the token in a posted body, never in the URL.
            "activation_page": ACTIVATION_PAGE, "activation_api": ACTIVATION_API,
            "expires_at": request.activation_expires_at.isoformat(), "expired": expired}
        issued = request.issued_accounts or [{
            "login": request.login, "role": "applicant",
            "activation_token": request.activation_token,
            "expires_at": request.activation_expires_at.isoformat()}]
        body["accounts"] = [{**a, "activation_page": ACTIVATION_PAGE,
                             "activation_api": ACTIVATION_API,
                             "expired": dt.datetime.fromisoformat(a["expires_at"]) <= utcnow()}
                            for a in issued]
    return body


def apply_issued(session: Session, payload: dict) -> None:
    """identity issued the account: keep its activation link for the receipt."""
    app = lock_application(session, payload["request_id"])
    request = session.get(AccountRequest, payload["request_id"])
    if app is None or request is None or request.issued_at is not None:
        return
    request.login = payload["login"]
    request.activation_token = payload["activation_token"]
    request.activation_expires_at = dt.datetime.fromisoformat(payload["expires_at"])
    request.issued_accounts = [
        {k: str(a.get(k, "")) for k in ("login", "role", "activation_token", "expires_at")}
        for a in payload.get("accounts") or []] or None
    request.issued_at = utcnow()
    app.status, app.stage, app.reviewer_org_id = "registered", None, None
    logins = "、".join(a["login"] for a in request.issued_accounts or []) or payload["login"]
    history(session, app, "account_issued", comment=f"ログイン名 {logins}")


# --- the operators' list ------------------------------------------------------------

STATUSES = ("submitted", "forwarding", "primary_review", "secondary_review", "returned",
            "approved", "registered", "withdrawn")
SORTS = {
    "number": ("受付番号", Application.number),
    "org": ("機関コード", Application.org_id),
    "org_name": ("機関名", Organisation.name),
    "login": ("希望するログイン名", AccountRequest.requested_login),
    "requester": ("申請者", AccountRequest.requester_name),
    "status": ("状態", Application.status),
    "submitted": ("提出日時", Application.submitted_at),
}
LABELS = {**listing.COMMON_LABELS, "status": "状態"}


@dataclass(frozen=True)
class RequestQuery(listing.ListQuery):
    status: str = ""
    sort: str = "submitted"
    order: str = "desc"


def parse_query(args: Mapping[str, str]) -> tuple[RequestQuery, list[str]]:
    get, common, problems = listing.read(args, LABELS, SORTS, "submitted")
    if not get["order"]:
        common["order"] = "desc"
    return RequestQuery(status=listing.choice(get["status"], "status", LABELS["status"],
                                              STATUSES, problems), **common), problems


def _listed(query: RequestQuery):
    stmt = (select(Application, AccountRequest, Organisation.name)
            .join(AccountRequest, AccountRequest.application_id == Application.id)
            .outerjoin(Organisation, Organisation.id == Application.org_id)
            .where(Application.kind == "account"))
    if query.status:
        stmt = stmt.where(Application.status == query.status)
    if query.q:
        pattern = listing.like(query.q)
        stmt = stmt.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in (
            Application.number, Application.org_id, Organisation.name,
            AccountRequest.requested_login, AccountRequest.requester_name,
            AccountRequest.login))))
    return stmt


def _list_item(app: Application, request: AccountRequest, org_name: str | None) -> dict:
    issued = request.issued_accounts or ([{"login": request.login, "role": "applicant"}]
                                         if request.login else [])
    return {"application_id": app.id, "number": app.number, "org": app.org_id,
            "org_name": org_name, "login_requested": request.requested_login,
            "requester": request.requester_name, "status": app.status, "stage": app.stage,
            "round": app.round,
            "submitted_at": app.submitted_at.isoformat() if app.submitted_at else None,
            "issued_at": request.issued_at.isoformat() if request.issued_at else None,
            "accounts": [{"login": a["login"], "role": a["role"]} for a in issued]}


def search(session: Session, query: RequestQuery) -> listing.Page:
    """One page of the account requests matching ``query`` (search by part of the
    受付番号, the organisation's code or name, the requested or issued login, the
    requester's name), and how many match in all. Never a receipt or activation token."""
    stmt = _listed(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = listing.ordered(stmt, SORTS[query.sort][1], Application.id, query.order)
    items = [_list_item(*row) for row in session.execute(listing.paged(stmt, query))]
    return listing.Page(items=items, total=total, query=query)


def every(session: Session, query: RequestQuery) -> Iterator[dict]:
    stmt = listing.ordered(_listed(query), SORTS[query.sort][1], Application.id, query.order)
    for row in session.execute(stmt.limit(listing.CSV_LIMIT).execution_options(yield_per=500)):
        yield _list_item(*row)


CSV_HEADER = ("受付番号", "機関名", "機関コード", "希望するログイン名", "申請者", "状態",
              "提出日時（日本時間）", "発行日時（日本時間）", "発行されたアカウント")


def csv_rows(items: Iterator[dict], role_names: Mapping[str, str],
             status_names: Mapping[str, str]) -> Iterator[tuple]:
    for i in items:
        yield (i["number"], i["org_name"] or "", i["org"], i["login_requested"] or "",
               i["requester"] or "", status_names.get(i["status"], i["status"]),
               jst_minutes(i["submitted_at"]), jst_minutes(i["issued_at"]),
               "、".join(f"{a['login']}（{role_names.get(a['role'], a['role'])}）"
                        for a in i["accounts"]))



def csv_response(args: Mapping[str, str]):
    """The CSV download of the list with ``args``' filters (page and API): every match
    up to listing.CSV_LIMIT, statuses and roles by their Japanese names."""
    query = listing.checked(parse_query, args)

    def body():
        with context("intake").transaction() as session:
            yield from listing.csv_text(CSV_HEADER, csv_rows(every(session, query),
                                                             ROLE_LABELS, STATUS_LABELS))

    return listing.csv_download(body(), "account-requests")
