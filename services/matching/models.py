"""Tables of the matching service: the delegation records of submitted applications."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import make_base, utcnow
from shared.messaging import InboxMixin, OutboxMixin

Base = make_base("matching")


class DelegationRecord(Base):
    """One row of 様03-08 as the applicant declared it.

    kind: query (情報照会事務の委任, filed by the delegatee), provision_delegation
    ((2) filed by the 委任元), provision_acceptance ((3) filed by the 委任先).
    """

    __tablename__ = "matching_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    round: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    item: Mapped[str] = mapped_column(String(40), index=True)
    counterpart: Mapped[str | None] = mapped_column(String(40), index=True)
    data: Mapped[dict]
    status: Mapped[str] = mapped_column(String(30), default="pending")
    detail: Mapped[str | None] = mapped_column(String(400))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MatchedApplication(Base):
    """An application whose delegation records this service holds (possibly none)."""

    __tablename__ = "matching_applications"

    application_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    round: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Outbox(OutboxMixin, Base):
    __tablename__ = "matching_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "matching_inbox"
