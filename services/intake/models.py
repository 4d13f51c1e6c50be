"""Tables of the intake service: the organisation registry, applications, their forms
and history."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import make_base, utcnow
from shared.messaging import InboxMixin, OutboxMixin

Base = make_base("intake")


class Organisation(Base):
    """機関マスタ: an organisation that applies or reviews."""

    __tablename__ = "intake_organisations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # 都道府県, 政令指定都市, 特別区, 市, 町, 村, 一部事務組合, 広域連合,
    # 後期高齢者医療広域連合, 国の機関
    kind: Mapped[str] = mapped_column(String(40))
    # executive (首長部局), board_of_education (教育委員会), union, national
    branch: Mapped[str] = mapped_column(String(30))
    lg_code: Mapped[str | None] = mapped_column(String(6), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(40))
    can_apply: Mapped[bool] = mapped_column(default=True)
    attributes: Mapped[dict] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def as_ref(self) -> dict:
        """The organisation as it travels in messages (contracts.OrgRef)."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "branch": self.branch,
                "prefecture_code": self.prefecture_code, "parent_id": self.parent_id}


class Application(Base):
    __tablename__ = "intake_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(20))          # connection | change
    status: Mapped[str] = mapped_column(String(30), index=True, default="draft")
    round: Mapped[int] = mapped_column(Integer, default=0)  # submissions so far
    stage: Mapped[str | None] = mapped_column(String(20))
    reviewer_org_id: Mapped[str | None] = mapped_column(String(40))
    catalog_version: Mapped[str | None] = mapped_column(String(40))
    findings: Mapped[list] = mapped_column(default=list)
    master_version: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[dt.datetime | None]

    forms: Mapped[list["FormEntry"]] = relationship(
        back_populates="application", order_by="FormEntry.code", lazy="selectin")
    history: Mapped[list["HistoryEntry"]] = relationship(
        back_populates="application", order_by="HistoryEntry.id", lazy="selectin")


class FormEntry(Base):
    """One form of an application, as the applicant last sent it."""

    __tablename__ = "intake_forms"
    __table_args__ = (UniqueConstraint("application_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    code: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict]
    source: Mapped[str] = mapped_column(String(10), default="json")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="validating")  # validating|valid|invalid
    findings: Mapped[list] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    application: Mapped[Application] = relationship(back_populates="forms")


class HistoryEntry(Base):
    """Who did what, when: every step of every round, never edited."""

    __tablename__ = "intake_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("intake_applications.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(30))
    stage: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[dict | None]
    org_id: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(back_populates="history")


class Outbox(OutboxMixin, Base):
    __tablename__ = "intake_outbox"


class Inbox(InboxMixin, Base):
    __tablename__ = "intake_inbox"
