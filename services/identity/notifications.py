"""Notifications: the in-app inbox (お知らせ) of every account, and the mails sent with
its notices (docs/notifications.md).

Services that know an event (review: decisions and returns; matching: 委任情報確認依頼;
master: registration) send identity a ``notification.requested`` message naming the
organisation to tell. Identity, which holds the accounts, resolves the recipients (the
organisation's active applicant and forwarder accounts), writes one inbox notice per
account and, for each account with an e-mail address that did not opt out of the kind,
queues a mail in the same transaction with a ``mail.send_requested`` message to its own
queue. :mod:`services.identity.mailer` sends it.

A notice says what happened, to which application (number, organisation name) and
where to look; it never carries form content (no 緊急連絡先 can reach a mail).
"""
from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, object_session

from shared import audit
from shared.contracts import NOTIFICATION_KINDS
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.web import ApiError, not_found
from services.identity.models import Account, Mail, Notification

# kind -> what the settings page calls it
KINDS = {
    "returned": "差戻し（否認）",
    "approved": "審査の承認（各段階）",
    "registered": "マスタへの登録",
    "confirmation_requested": "委任情報確認依頼",
    "account_issued": "アカウントの発行",
    "deadline_near": "期限が近づいたとき",
    "deadline_passed": "期限を過ぎたとき",
}
assert tuple(KINDS) == NOTIFICATION_KINDS
# Notices identity sends on its own, always mailed (no opt-out): what the inbox calls them.
OWN_KINDS = {"password_link": "パスワード再設定のリンク"}
STAGES = {"forwarding": "経由機関", "primary": "一次審査", "secondary": "二次審査"}
# The accounts an organisation's notices go to.
RECIPIENT_ROLES = ("applicant", "forwarder")
# A practical address check (RFC 5321 lengths; one @, a dotted domain, no spaces).
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                   r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def check_email(value: str | None, field: str = "email") -> str | None:
    """The address normalised (trimmed; empty is None), or a 422 in Japanese that
    names the field."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > 254 or not EMAIL.match(value):
        raise ApiError(422, "invalid_email",
                       f"メールアドレス（{field}）の形式が正しくありません: "
                       f"「{value[:80]}」。例: taro@example.lg.jp", details={field: value[:254]})
    return value


# --- what a notice says -------------------------------------------------------------

def compose(p: dict) -> tuple[str, str]:
    """The subject and body of a notice (Japanese)."""
    org = p.get("org_name") or p["org_id"]
    number = p.get("number")
    about = f"申請番号 {number}（{p.get('subject_org_name') or org}）" if number else org
    kind = p["kind"]
    if kind == "returned":
        subject = f"【差戻し】申請 {number} が否認されました"
        lines = [f"{about} は{STAGES.get(p.get('stage'), '審査')}で否認され、差し戻されました。",
                 "", "否認の理由:", p.get("comment") or "（記載なし）", "",
                 "内容を修正して再提出してください。"]
    elif kind == "approved":
        stage = STAGES.get(p.get("stage"), "審査")
        subject = f"【承認】申請 {number} が{stage}で承認されました"
        lines = [f"{about} は{stage}で承認されました。"]
        if p.get("comment"):
            lines += ["", "コメント:", p["comment"]]
    elif kind == "registered":
        subject = f"【マスタ登録】申請 {number} がマスタ版 {p.get('master_version')} に登録されました"
        lines = [f"{about} の内容が、マスタ版 {p.get('master_version')} に登録されました。"]
    elif kind == "confirmation_requested":
        subject = f"【委任情報確認依頼】{p.get('subject_org_name') or ''}から確認の依頼があります"
        lines = [f"{p.get('subject_org_name') or '委任先'}（申請番号 {number}）が、"
                 "貴機関を委任元とする情報照会の委任情報を申請しました。",
                 "委任の内容を確認し、確認または異議を回答してください。"]
    elif kind == "account_issued":
        subject = "【アカウント発行】情報共有サイトのアカウントが発行されました"
        lines = [f"{org} のアカウント発行申請（申請番号 {number}）が承認され、アカウントが発行されました。",
                 "アカウント発行申請の受付票に表示された有効化リンクから、パスワードを設定してください。"]
    elif kind == "deadline_near":
        subject = f"【期限のお知らせ】{p.get('phase')}の期限まであと {p.get('days_left')} 日です"
        lines = [f"{about} について、{p.get('phase')}の期限は {p.get('deadline')} です"
                 f"（あと {p.get('days_left')} 日）。"]
    else:  # deadline_passed
        subject = f"【期限超過】{p.get('phase')}の期限を過ぎました"
        lines = [f"{about} について、{p.get('phase')}の期限 {p.get('deadline')} を過ぎました。"]
    return subject, "\n".join(lines)


def mail_body(settings, p: dict, body: str, addressee: str) -> str:
    link = f"{settings.public_url}{p.get('link') or '/auth/notifications'}"
    return (f"{addressee} 様\n\n{body}\n\n詳しくは次のページをご覧ください。\n{link}\n\n"
            f"通知メールの設定: {settings.public_url}/auth/notifications/settings\n"
            "このメールは情報共有サイト 申請処理機能から自動で送信しています。返信はできません。\n")


# --- receiving ----------------------------------------------------------------------

def receive(ctx: ServiceContext, session: Session, payload: dict) -> int:
    """Write the notices of a ``notification.requested``, queue their mails, and pass
    the notice on to review for the organisation's webhooks. Returns how many accounts
    were told."""
    accounts = session.scalars(select(Account).where(
        Account.org_id == payload["org_id"], Account.active.is_(True),
        Account.role.in_(RECIPIENT_ROLES)).order_by(Account.id)).all()
    for account in accounts:
        deliver(ctx, session, account, payload)
    # the organisation's own system (a webhook registered at review) is told as well
    ctx.emit(session, "review", "notification.published", payload)
    return len(accounts)


def link_for(account: Account, link: str) -> str:
    """The notice's link as ``account`` may follow it: the applicant's pages
    (``/applicant/...``) are no page for a forwarder account of the same organisation,
    whose notice then has no link rather than one that answers 403."""
    if link.startswith("/applicant/") and account.role != "applicant":
        return ""
    return link


def deliver(ctx: ServiceContext, session: Session, account: Account, payload: dict,
            to_address: str | None = None) -> Notification:
    """One notice to one account, and its mail (to ``to_address`` or the account's
    address) unless the account opted out of the kind."""
    subject, body = compose(payload)
    notice = Notification(account_id=account.id, kind=payload["kind"], subject=subject,
                          body=body, link=link_for(account, payload.get("link") or ""),
                          application_id=payload.get("application_id"),
                          number=payload.get("number"))
    session.add(notice)
    session.flush()
    address = to_address or account.email
    if address and payload["kind"] not in (account.mail_opt_outs or []):
        mail = Mail(id=str(uuid.uuid4()), notification_id=notice.id, to_address=address,
                    subject=subject, status="pending", next_attempt_at=None,
                    body=mail_body(ctx.settings, payload, body, account.name or account.login))
        session.add(mail)
        session.flush()
        ctx.emit(session, "identity", "mail.send_requested", {"mail_id": mail.id})
    return notice


def deliver_secret(ctx: ServiceContext, session: Session, account: Account, kind: str,
                   subject: str, notice: str, secret_lines: list[str]) -> bool:
    """A notice of identity's own (OWN_KINDS) to one account, and a mail to its address
    that also carries ``secret_lines`` (a one-time token): the inbox copy never holds
    them. Whether a mail was queued (the account has an address)."""
    row = Notification(account_id=account.id, kind=kind, subject=subject, body=notice,
                       link="/auth/activate")
    session.add(row)
    session.flush()
    if not account.email:
        return False
    text = "\n".join([notice, "", *secret_lines])
    mail = Mail(id=str(uuid.uuid4()), notification_id=row.id, to_address=account.email,
                subject=subject, status="pending", next_attempt_at=None,
                body=mail_body(ctx.settings, {"link": "/auth/activate"}, text,
                               account.name or account.login))
    session.add(mail)
    session.flush()
    ctx.emit(session, "identity", "mail.send_requested", {"mail_id": mail.id})
    return True


# --- the inbox ----------------------------------------------------------------------

def unread_count(session: Session, account_id: int) -> int:
    return session.scalar(select(func.count(Notification.id)).where(
        Notification.account_id == account_id, Notification.read_at.is_(None))) or 0


def inbox(session: Session, account_id: int, limit: int = 200) -> dict:
    rows = session.scalars(select(Notification).where(Notification.account_id == account_id)
                           .order_by(Notification.id.desc()).limit(limit)).all()
    return {"unread": unread_count(session, account_id),
            "items": [describe(n) for n in rows]}


def describe(n: Notification) -> dict:
    return {"id": n.id, "kind": n.kind,
            "kind_label": KINDS.get(n.kind) or OWN_KINDS.get(n.kind, n.kind),
            "subject": n.subject, "body": n.body, "link": n.link,
            "application_id": n.application_id, "number": n.number,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None}


def mark_read(session: Session, account_id: int, notification_id: int) -> None:
    """Mark one notice read (404 for another account's)."""
    notice = session.get(Notification, notification_id)
    if notice is None or notice.account_id != account_id:
        raise not_found("お知らせ")
    if notice.read_at is None:
        notice.read_at = utcnow()


def mark_all_read(session: Session, account_id: int) -> int:
    return session.execute(update(Notification).where(
        Notification.account_id == account_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())).rowcount


# --- an account's mail settings -----------------------------------------------------

def account_of(session: Session, account_id: int | None) -> Account:
    """The caller's own account (whose notifications and settings these are); 404 when
    it is gone."""
    account = session.get(Account, account_id) if account_id is not None else None
    if account is None:
        raise not_found("アカウント")
    return account


def settings_of(account: Account) -> dict:
    opted = set(account.mail_opt_outs or [])
    return {"email": account.email,
            "kinds": [{"kind": k, "label": label, "mail": k not in opted}
                      for k, label in KINDS.items()]}


def change_settings(account: Account, *, email=..., mail_kinds: list[str] | None = None) -> None:
    """Set the address (``None`` removes it) and the kinds mailed (the others are opted
    out). Bad input is a Japanese 422 and changes nothing."""
    new_email = account.email if email is ... else check_email(email)
    if mail_kinds is not None:
        unknown = [k for k in mail_kinds if k not in KINDS]
        if unknown:
            raise ApiError(422, "unknown_kind",
                           f"通知の種類（mail_kinds）が正しくありません: {', '.join(unknown)}。"
                           f"使える種類: {', '.join(KINDS)}")
        opt_outs = [k for k in KINDS if k not in mail_kinds]
    else:
        opt_outs = list(account.mail_opt_outs or [])
    changed = {}
    if new_email != account.email:
        changed["email"] = "set" if new_email else "removed"
    if opt_outs != list(account.mail_opt_outs or []):
        changed["mail_opt_outs"] = opt_outs
    account.email, account.mail_opt_outs = new_email, opt_outs
    if changed:
        audit.record(object_session(account), "account.notifications_changed",
                     f"account:{account.login}", changed, subject_org=account.org_id)
