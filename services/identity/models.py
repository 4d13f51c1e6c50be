"""Tables of the identity service: accounts and their one-time activation links."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, utcnow
from shared.messaging import InboxMixin, OutboxMixin

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


class Activation(Base):
    """The one-time activation link of an account issued on an approved account request.
    Only the SHA-256 of the token is stored."""

    __tablename__ = "identity_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("identity_accounts.id"), index=True)
    request_id: Mapped[int] = mapped_column(Integer, unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Outbox(OutboxMixin, Base):
    __tablename__ = "identity_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "identity_inbox"
