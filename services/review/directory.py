"""The organisation ids of intake's registry, as intake announces them
(``organisations.directory``): what a router may name, and (with the names intake sends
beside them) how the pages name an organisation."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable, Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.review.models import KnownOrganisation

log = logging.getLogger(__name__)


def store(session: Session, payload: dict) -> None:
    """Keep the newest directory (an older one processed late changes nothing), each id
    with its name when the directory carries ``names``."""
    generated = dt.datetime.fromisoformat(payload["generated_at"])
    newest = session.scalar(select(func.max(KnownOrganisation.generated_at)))
    if newest is not None and newest > generated:
        return
    session.execute(delete(KnownOrganisation))
    ids = sorted(set(payload["org_ids"]))
    named = payload.get("names") or {}
    if ids:
        session.execute(insert(KnownOrganisation), [
            {"org_id": org_id, "generated_at": generated,
             "name": str(named[org_id])[:200] if named.get(org_id) else None}
            for org_id in ids])


def names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    """id → name of the organisations among ``ids`` whose name the directory carries
    (one query for a whole page)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(session.execute(
        select(KnownOrganisation.org_id, KnownOrganisation.name)
        .where(KnownOrganisation.org_id.in_(wanted), KnownOrganisation.name.is_not(None))).all())


def known(session: Session) -> Callable[[str], bool] | None:
    """Whether an organisation id is in the directory; None (nothing is checked) until
    intake's first directory arrived (``nws refdata load`` sends it)."""
    if session.scalar(select(KnownOrganisation.org_id).limit(1)) is None:
        log.warning("no organisation directory from intake yet (nws refdata load sends "
                    "it): routes are not checked against the registry")
        return None
    return lambda org_id: session.get(KnownOrganisation, org_id) is not None
