"""Organisation names for the account pages, as intake announces its registry
(``organisations.directory``): identity never reads intake's tables."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.identity.models import KnownOrganisation


def store(session: Session, payload: dict) -> None:
    """Keep the newest directory that carries names (an older one processed late, or
    one without names, changes nothing)."""
    names = payload.get("names")
    if not names:
        return
    generated = dt.datetime.fromisoformat(payload["generated_at"])
    newest = session.scalar(select(func.max(KnownOrganisation.generated_at)))
    if newest is not None and newest > generated:
        return
    session.execute(delete(KnownOrganisation))
    session.execute(insert(KnownOrganisation),
                    [{"id": org_id[:40], "name": str(name)[:200], "generated_at": generated}
                     for org_id, name in sorted(names.items())])


def names_of(session: Session, ids: Iterable[str]) -> dict[str, str]:
    """id → name of the organisations among ``ids`` the directory knows."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return dict(session.execute(select(KnownOrganisation.id, KnownOrganisation.name)
                                .where(KnownOrganisation.id.in_(wanted))).all())


def is_known(session: Session, org_id: str) -> bool | None:
    """Whether the directory has ``org_id``; None until intake's first directory came."""
    if session.scalar(select(KnownOrganisation.id).limit(1)) is None:
        return None
    return session.get(KnownOrganisation, org_id) is not None
