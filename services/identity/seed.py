"""Demo accounts for a first look at the embedded suite: one per role.

They exist only where the settings say the suite is embedded (`nws serve`, the test
suites' embedded fixtures): a deployment (docker-compose.yml, `nws web`/`nws worker`
with NWS_DATABASE_URL) never gets them, even if something calls the seed there. The
distributed tests, which run against PostgreSQL with non-embedded settings, create
them explicitly with :func:`create_demo_accounts`.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from shared.messaging import ServiceContext
from services.identity.accounts import create_account
from services.identity.models import Account

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-pass-2026"

# (login, org, role, name, department) — fictitious people of real organisations.
DEMO_ACCOUNTS = (
    ("demo-applicant", "131016", "applicant", "申請 太郎", "千代田区 情報政策課"),
    ("demo-boe", "131016-BOE", "applicant", "教委 花子", "千代田区教育委員会 総務課"),
    ("demo-forwarder", "131016", "forwarder", "経由 次郎", "千代田区 情報政策課"),
    ("demo-pref", "130001", "primary_reviewer", "審査 一郎", "東京都 デジタルサービス局"),
    ("demo-jlis", "JLIS", "primary_reviewer", "機構 三郎", "J-LIS 情報提供ネットワーク部"),
    ("demo-mic", "MIC", "secondary_reviewer", "総務 四郎", "総務省 住民制度課"),
    ("demo-operator", "MIC", "operator", "運用 五郎", "総務省 情報提供NWS運営"),
)


def seed(ctx: ServiceContext) -> list[tuple[str, str, str]]:
    """In the embedded suite, create the demo accounts that are missing and return
    (login, org, role) of each; anywhere else, create nothing and return []."""
    if not ctx.settings.embedded:
        log.info("not the embedded suite: no demo accounts")
        return []
    return create_demo_accounts(ctx)


def create_demo_accounts(ctx: ServiceContext) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; return (login, org, role) of each."""
    with ctx.transaction() as session:
        existing = set(session.scalars(select(Account.login)))
        for login, org, role, name, dept in DEMO_ACCOUNTS:
            if login not in existing:
                create_account(session, login=login, password=DEMO_PASSWORD, org_id=org,
                               role=role, name=name, department=dept)
    return [(a[0], a[1], a[2]) for a in DEMO_ACCOUNTS]
