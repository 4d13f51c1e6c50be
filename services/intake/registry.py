"""The organisation registry (機関マスタ), loaded from 全国地方公共団体コード.

Every prefecture and municipality becomes two organisations: its 首長部局 (id = the
6-digit code) and its 教育委員会 (id = code + "-BOE"). The two reviewing bodies J-LIS and
総務省 are registered as well. Loading is idempotent: rows are inserted or updated, and
operator-set attributes are kept.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake.models import Organisation

REFDATA = Path(__file__).parent / "refdata"
DANTAI_CSV = REFDATA / "soumu_lgcode_R6_0101_dantai.csv"
SEIREI_CSV = REFDATA / "soumu_lgcode_R6_0101_seirei_shitei_toshi.csv"
SOURCE = "総務省 全国地方公共団体コード R6.1.1"

# 北方領土の村: listed in the code table, no government that could apply.
NORTHERN_TERRITORIES = {"016951", "016969", "016977", "016985", "016993", "017001"}

NATIONAL = (
    ("JLIS", "地方公共団体情報システム機構"),
    ("MIC", "総務省"),
)


@dataclass(frozen=True)
class OrgRow:
    id: str
    name: str
    kind: str
    branch: str
    lg_code: str | None
    prefecture_code: str | None
    parent_id: str | None
    can_apply: bool


def municipality_kind(code: str, name: str, designated: set[str]) -> str:
    if code in designated:
        return "政令指定都市"
    if code.startswith("131") and name.endswith("区"):
        return "特別区"
    for suffix in ("市", "町", "村"):
        if name.endswith(suffix):
            return suffix
    raise ValueError(f"cannot tell the kind of {code} {name}")


def read_rows(dantai: Path = DANTAI_CSV, seirei: Path = SEIREI_CSV) -> Iterator[OrgRow]:
    with seirei.open(encoding="utf-8") as f:
        designated = {r["団体コード"] for r in csv.DictReader(f)
                      if r["市区町村名（漢字）"].endswith("市")}
    with dantai.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    prefectures = {r["団体コード"][:2]: r["団体コード"] for r in rows if not r["市区町村名（漢字）"]}
    for r in rows:
        code, pref_name, muni = r["団体コード"], r["都道府県名（漢字）"], r["市区町村名（漢字）"]
        pref_code = prefectures[code[:2]]
        if not muni:
            yield OrgRow(code, pref_name, "都道府県", "executive", code, code, None, True)
            yield OrgRow(f"{code}-BOE", f"{pref_name}教育委員会", "都道府県", "board_of_education",
                         code, code, code, True)
            continue
        kind = municipality_kind(code, muni, designated)
        can_apply = code not in NORTHERN_TERRITORIES
        full = f"{pref_name}{muni}"
        yield OrgRow(code, full, kind, "executive", code, pref_code, None, can_apply)
        yield OrgRow(f"{code}-BOE", f"{full}教育委員会", kind, "board_of_education", code,
                     pref_code, code, can_apply)
    for org_id, name in NATIONAL:
        yield OrgRow(org_id, name, "国の機関等", "national", None, None, None, False)


def load_registry(session: Session) -> dict[str, int]:
    """Insert or update every organisation of the code table; returns counts."""
    existing = {o.id: o for o in session.scalars(select(Organisation))}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for row in read_rows():
        org = existing.get(row.id)
        values = dict(name=row.name, kind=row.kind, branch=row.branch, lg_code=row.lg_code,
                      prefecture_code=row.prefecture_code, parent_id=row.parent_id,
                      can_apply=row.can_apply, source=SOURCE)
        if org is None:
            session.add(Organisation(id=row.id, attributes={}, **values))
            counts["inserted"] += 1
        elif any(getattr(org, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(org, k, v)
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts
