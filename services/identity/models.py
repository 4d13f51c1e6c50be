"""Tables of the identity service: accounts, their one-time activation links, the
login audit and throttle, and revoked tokens."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, utcnow
from shared.audit import AuditLogMixin
from shared.messaging import DeadLetterMixin, InboxMixin, OutboxMixin

Base = make_base("identity")


class Account(Base):
    __tablename__ = "identity_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100), default="")
    department: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    # Tokens carry the generation they were issued under; raising it (password change,
    # role change, disabling, an operator ending the sessions) ends every token issued
    # before, on every service (docs/runbook.md, "Sessions and tokens").
    token_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    sessions_ended_at: Mapped[dt.datetime | None]
    # Where notification mails go (none: inbox only), and the notification kinds the
    # holder does not want by mail (services.identity.notifications.KINDS).
    email: Mapped[str | None] = mapped_column(String(254))
    mail_opt_outs: Mapped[list] = mapped_column(default=list)


class Activation(Base):
    """A one-time link that sets an account's password: ``issued`` with an account made
    on an approved account request (``request_id``; a 首長部局's request issues two
    accounts, so two links), or ``reset`` by an operator (services.identity.admin).
    Only the SHA-256 of the token is stored."""

    __tablename__ = "identity_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("identity_accounts.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="issued",
                                         server_default="issued")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KnownOrganisation(Base):
    """An organisation of intake's registry by name, as intake announces it
    (``organisations.directory``): what the account pages show and search."""

    __tablename__ = "identity_organisations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    generated_at: Mapped[dt.datetime]


class LoginAudit(Base):
    """Every login attempt, successful or not: the login tried (whether or not such an
    account exists), the outcome, the client address, the time. Never a password."""

    __tablename__ = "identity_login_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    login: Mapped[str] = mapped_column(String(100), index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: kept as written
    # success, wrong_password, unknown_login, inactive, throttled
    outcome: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(20))   # api, page, password_change


class LoginThrottle(Base):
    """Consecutive failed logins per key ("account:<login>" or "address:<ip>"), shared by
    every web process of identity, and until when the key must wait."""

    __tablename__ = "identity_login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    blocked_until: Mapped[dt.datetime | None]


class RevokedToken(Base):
    """A token ended by its logout, kept until it would have expired anyway."""

    __tablename__ = "identity_revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """One notice in an account's in-app inbox (お知らせ)."""

    __tablename__ = "identity_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("identity_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(300), default="")
    application_id: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None]


class Mail(Base):
    """A notification mail: queued with its notice, sent by the identity worker
    (services.identity.mailer), retried with backoff; every attempt is counted."""

    __tablename__ = "identity_mails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("identity_notifications.id"),
                                                 index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # pending → sending → sent | retrying → … | failed (after MAX_ATTEMPTS)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    sent_at: Mapped[dt.datetime | None]


class Outbox(OutboxMixin, Base):
    __tablename__ = "identity_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "identity_inbox"


class DeadLetter(DeadLetterMixin, Base):
    __tablename__ = "identity_dead_letters"


class AuditLog(AuditLogMixin, Base):
    """Every state-changing action in identity, chained by hash (shared.audit)."""

    __tablename__ = "identity_audit_log"
