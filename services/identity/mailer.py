"""Sending notification mails (docs/notifications.md).

A mail row is queued with its notice (services.identity.notifications) and a
``mail.send_requested`` message. The identity worker claims the row, sends it with no
transaction open, and records the attempt: ``sent``, or ``retrying`` with the next
attempt after ``NWS_MAIL_RETRY_BASE`` seconds doubled per attempt (the identity periodic
task queues it again), or ``failed`` after MAX_ATTEMPTS.

Where it goes: the SMTP server of ``NWS_SMTP_URL`` (``smtp://user:pass@host:587?starttls=1``
or ``smtps://host:465``), from ``NWS_MAIL_FROM``; without one (the embedded default) each
mail is written as an ``.eml`` file under ``<data dir>/mail/``.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import utcnow
from shared.messaging import ServiceContext, requeue_due
from services.identity.models import Mail

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RETRY_MAX_SECONDS = 6 * 3600.0
# A claimed or queued mail whose worker did not report within this long is queued again.
LEASE_SECONDS = 120.0
SMTP_TIMEOUT = 30.0


def build(settings: Settings, mail: dict) -> EmailMessage:
    """The MIME message of a mail row (UTF-8; the subject RFC 2047-encoded)."""
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = mail["to"]
    msg["Subject"] = mail["subject"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=mail["id"], domain="nws.local")
    msg.set_content(mail["body"], charset="utf-8")
    return msg


def mail_folder(settings: Settings) -> Path:
    return settings.data_dir / "mail"


def write_eml(settings: Settings, mail: dict, msg: EmailMessage) -> Path:
    """The embedded default: the mail as ``<data dir>/mail/<time>-<id>.eml``."""
    folder = mail_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{utcnow():%Y%m%dT%H%M%S}-{mail['id']}.eml"
    partial = path.with_suffix(".part")
    partial.write_bytes(bytes(msg))
    partial.replace(path)
    return path


def send_smtp(url: str, msg: EmailMessage) -> None:
    """Send over SMTP as the URL says: smtps:// is TLS from the start, smtp:// with
    ?starttls=1 upgrades; user and password (URL-quoted) log in."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=SMTP_TIMEOUT,
                                  context=context)
    else:
        client = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=SMTP_TIMEOUT)
    with client:
        if parts.scheme == "smtp" and query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            client.starttls(context=context)
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(msg)


# --- claiming, sending, recording ---------------------------------------------------------

def claim(session: Session, mail_id: str) -> dict | None:
    """Take a queued mail for sending (None if it is not waiting: sent already, or taken
    by another worker)."""
    moved = session.execute(update(Mail).where(
        Mail.id == mail_id, Mail.status.in_(("pending", "queued"))).values(
        status="sending", next_attempt_at=utcnow() + dt.timedelta(seconds=LEASE_SECONDS)))
    if moved.rowcount != 1:
        return None
    mail = session.get(Mail, mail_id)
    return {"id": mail.id, "to": mail.to_address, "subject": mail.subject, "body": mail.body}


def send(ctx: ServiceContext, claimed: dict) -> bool:
    """Send a claimed mail and record the attempt. Whether it went."""
    settings = ctx.settings
    error = None
    try:
        msg = build(settings, claimed)
        if settings.smtp_url:
            send_smtp(settings.smtp_url, msg)
        else:
            write_eml(settings, claimed, msg)
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("mail %s not sent: %s", claimed["id"], error)
    with ctx.transaction() as session:
        mail = session.get(Mail, claimed["id"])
        mail.attempts += 1
        mail.last_error = error
        now = utcnow()
        if error is None:
            mail.status, mail.sent_at, mail.next_attempt_at = "sent", now, None
        elif mail.attempts >= MAX_ATTEMPTS:
            mail.status, mail.next_attempt_at = "failed", None
        else:
            delay = min(RETRY_MAX_SECONDS, settings.mail_retry_base * 2 ** (mail.attempts - 1))
            mail.status, mail.next_attempt_at = "retrying", now + dt.timedelta(seconds=delay)
    return error is None


def queue_due(ctx: ServiceContext, session: Session, limit: int = 100) -> int:
    """Queue again the mails whose retry time came, or whose lease expired."""
    return requeue_due(ctx, session, Mail, ("retrying", "queued", "sending"),
                       "mail.send_requested", "mail_id", LEASE_SECONDS, limit)


def tick(ctx: ServiceContext) -> dict:
    """The identity worker's periodic work: mail retries."""
    with ctx.transaction() as session:
        return {"mails_queued": queue_due(ctx, session)}
