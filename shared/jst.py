"""Japan time, the one time zone people read: pages, CSV files and mails show times in
JST and say so; the database and the API keep UTC."""
from __future__ import annotations

import datetime as dt

JST = dt.timezone(dt.timedelta(hours=9), "JST")


def to_jst(moment: dt.datetime | str) -> dt.datetime:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:           # naive times in this suite are UTC
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(JST)


def jst(moment: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``2026-04-01 09:30:00`` in Japan time (the caller labels it "（日本時間）")."""
    return "" if moment in (None, "") else to_jst(moment).strftime(fmt)


def jst_minutes(moment: dt.datetime | str | None) -> str:
    """``2026/04/01 09:30`` in Japan time."""
    return jst(moment, "%Y/%m/%d %H:%M")


def today() -> dt.date:
    """Today in Japan."""
    return dt.datetime.now(JST).date()
