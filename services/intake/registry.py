"""The organisation registry (機関マスタ), loaded from 全国地方公共団体コード.

Every prefecture and municipality becomes two organisations: its 首長部局 (id = the
6-digit code) and its 教育委員会 (id = code + "-BOE"). The two reviewing bodies J-LIS and
総務省 are registered as well. Loading is idempotent: rows are inserted or updated, and
operator-set attributes are kept.

Operators set the attributes the legal catalog's conditions need (:data:`ATTRIBUTES`)
and register 一部事務組合・広域連合 with their members; every change is audited. Some
attributes come from reference data as well (``reference_attributes``, set on every
load): ``health_center`` from the list of the cities and 特別区 that run a 保健所
(:data:`HEALTH_CENTER_CSV`).
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from shared import audit
from shared.hooktypes import MUNICIPAL_KINDS, UNION_KINDS  # noqa: F401  (catalog imports them here)
from shared.db import utcnow

from services.intake.models import Organisation, OrganisationAudit, OrganisationMember

REFDATA = Path(__file__).parent / "refdata"
DANTAI_CSV = REFDATA / "soumu_lgcode_R6_0101_dantai.csv"
SEIREI_CSV = REFDATA / "soumu_lgcode_R6_0101_seirei_shitei_toshi.csv"
SOURCE = "総務省 全国地方公共団体コード R6.1.1"
# 保健所を設置する市 and 特別区 (地域保健法第5条第1項, 地域保健法施行令第1条; SOURCES.md)
HEALTH_CENTER_CSV = REFDATA / "hokenjo_secchi_shi_tokubetsuku.csv"
# The 区分 column of that file, and the registry kind each must have.
HEALTH_CENTER_KINDS = {"指定都市": "政令指定都市", "中核市": "市",
                       "地域保健法施行令第1条第3号の市": "市", "特別区": "特別区"}

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


class RefdataError(ValueError):
    """Reference data that cannot be loaded (a message for the operator)."""


def read_health_centers(rows: list[OrgRow], path: Path = HEALTH_CENTER_CSV) -> set[str]:
    """The 団体コード of the cities and 特別区 that run a 保健所, each checked against the
    code table: a known 首長部局 of the same name and of the kind its 区分 says."""
    executives = {r.id: r for r in rows if r.branch == "executive"}
    codes: set[str] = set()
    with path.open(encoding="utf-8-sig") as f:
        for n, r in enumerate(csv.DictReader(f), start=2):
            code, where = r["団体コード"], f"{path.name} line {n}"
            org = executives.get(code)
            if org is None:
                raise RefdataError(f"{where}: 団体コード {code} is not in the code table")
            if org.name != f"{r['都道府県名']}{r['市区名']}":
                raise RefdataError(f"{where}: {code} is {org.name} in the code table, "
                                   f"not {r['都道府県名']}{r['市区名']}")
            if HEALTH_CENTER_KINDS.get(r["区分"]) != org.kind:
                raise RefdataError(f"{where}: {code} {org.name} is a {org.kind}, "
                                   f"which does not fit 区分 {r['区分']!r}")
            if code in codes:
                raise RefdataError(f"{where}: {code} appears twice")
            codes.add(code)
    return codes


def reference_attributes(row: OrgRow, health_centers: set[str]) -> dict[str, bool]:
    """What the reference data says of an organisation: a city's or 特別区's 首長部局
    runs a 保健所 exactly when it is on the list (地域保健法施行令第1条 names them all:
    指定都市, 中核市 and five others; 特別区 by 地域保健法第5条第1項)."""
    if row.branch == "executive" and row.kind in CITY_KINDS:
        return {"health_center": row.id in health_centers}
    return {}


def load_registry(session: Session) -> dict[str, int]:
    """Insert or update every organisation of the code table, with the attributes the
    reference data gives (operator-set attributes are kept); returns counts."""
    existing = {o.id: o for o in session.scalars(select(Organisation))}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    rows = list(read_rows())
    health_centers = read_health_centers(rows)
    for row in rows:
        org = existing.get(row.id)
        values = dict(name=row.name, kind=row.kind, branch=row.branch, lg_code=row.lg_code,
                      prefecture_code=row.prefecture_code, parent_id=row.parent_id,
                      can_apply=row.can_apply, source=SOURCE,
                      reference_attributes=reference_attributes(row, health_centers))
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


# --- Attributes the catalog's conditions need ------------------------------------------

# The kinds plugins see in OrgRef.kind are declared once, in shared.hooktypes.
CITY_KINDS = ("政令指定都市", "特別区", "市")


@dataclass(frozen=True)
class Attribute:
    """A fact about an organisation that a catalog condition may ask (``attr:KEY``).

    ``by_law`` gives the value the law fixes for the organisation's kind (None when it
    varies from one organisation to another: then the operator sets it, and while it is
    unset the applicant chooses explicitly)."""

    key: str
    label: str
    basis: str
    by_law: Callable[[Organisation], bool | None]


def _executive(kinds_true: tuple[str, ...] = (), kinds_false: tuple[str, ...] = ()):
    def by_law(org: Organisation) -> bool | None:
        if org.branch != "executive":
            return None
        if org.kind in kinds_true:
            return True
        if org.kind in kinds_false:
            return False
        return None
    return by_law


def _varies(_org: Organisation) -> None:
    return None


ATTRIBUTES: dict[str, Attribute] = {a.key: a for a in (
    Attribute("welfare_office", "福祉に関する事務所（福祉事務所）を管理する",
              "社会福祉法第14条（都道府県及び市（特別区を含む。）は設置義務、町村は任意）",
              _executive(("都道府県",) + CITY_KINDS)),
    Attribute("health_center", "保健所を設置する",
              "地域保健法第5条第1項（都道府県・指定都市・特別区は設置、中核市その他政令で定める市は"
              "個別: 参照データ hokenjo_secchi_shi_tokubetsuku.csv）",
              _executive(("都道府県", "政令指定都市", "特別区"), ("町", "村"))),
    Attribute("public_housing", "公営住宅の事業主体である", "公営住宅法第2条第16号", _varies),
    Attribute("housing_improvement", "改良住宅の施行者である", "住宅地区改良法第2条第2項", _varies),
    Attribute("specified_rental_housing", "特定優良賃貸住宅の建設及び管理を行う",
              "特定優良賃貸住宅の供給の促進に関する法律第18条第2項", _varies),
    Attribute("regional_guide_plan", "地域通訳案内士育成等計画の同意を得た",
              "通訳案内士法第54条第3項", _varies),
    Attribute("nss_exam_city", "国家戦略特別区域限定保育士の試験実施指定都市である",
              "国家戦略特別区域法第12条の5第12項", _varies),
    Attribute("child_allowance_employer", "児童手当法第17条第1項の表の下欄に掲げる者として児童手当を支給する",
              "児童手当法第17条第1項", _varies),
    Attribute("specified_public_benefit", "特定公的給付の支給を実施する",
              "公的給付の支給等の迅速かつ確実な実施のための預貯金口座の登録等に関する法律第10条",
              _varies),
)}


def attribute_value(org: Organisation, key: str) -> bool | None:
    """True/False when the law, an operator or the reference data knows it (in that
    order: an operator may correct a list older than a new designation); None when
    nobody has said."""
    fixed = ATTRIBUTES[key].by_law(org)
    if fixed is not None:
        return fixed
    value = (org.attributes or {}).get(key)
    if isinstance(value, bool):
        return value
    value = (org.reference_attributes or {}).get(key)
    return value if isinstance(value, bool) else None


def effective_attributes(org: Organisation) -> dict[str, bool | None]:
    return {key: attribute_value(org, key) for key in ATTRIBUTES}


def describe_org(session: Session, org: Organisation) -> dict:
    """The organisation as the API shows it."""
    out = {"id": org.id, "name": org.name, "kind": org.kind, "branch": org.branch,
           "lg_code": org.lg_code, "prefecture_code": org.prefecture_code,
           "parent_id": org.parent_id, "can_apply": org.can_apply, "source": org.source,
           "attributes": dict(org.attributes or {}),
           "reference_attributes": dict(org.reference_attributes or {}),
           "effective_attributes": effective_attributes(org)}
    if org.kind in UNION_KINDS:
        out["members"] = members_of(session, org.id)
    return out


def members_of(session: Session, union_id: str) -> list[str]:
    return list(session.scalars(select(OrganisationMember.member_id).where(
        OrganisationMember.union_id == union_id).order_by(OrganisationMember.member_id)))


# --- Search (the organisation picker of the pages, GET /api/intake/organisations) ------

PICKER_LIMIT = 50      # what a picker shows at once (the API takes up to 500 a page)


def prefectures(session: Session) -> list[dict]:
    """The 47 prefectures (their 首長部局) in code order: {"code", "name"}."""
    rows = session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.kind == "都道府県", Organisation.branch == "executive"
    ).order_by(Organisation.id))
    return [{"code": code, "name": name} for code, name in rows]


def prefecture_code(session: Session, value: str) -> str | None:
    """The 6-digit code of a prefecture given as its 2-digit number ("13"), its code
    ("130001") or its name ("東京都"); None when it names none."""
    value = unicodedata.normalize("NFKC", value or "").strip()
    if not value:
        return None
    for p in prefectures(session):
        if value in (p["code"], p["code"][:2], p["name"]) or (
                value.isdigit() and len(value) == 1 and p["code"][:2] == f"0{value}"):
            return p["code"]
    return None


def search_organisations(session: Session, *, q: str = "", prefecture: str | None = None,
                         kind: str = "", branch: str = "", applying_only: bool = False,
                         limit: int = PICKER_LIMIT, offset: int = 0) -> dict:
    """Organisations whose code contains ``q`` or whose name contains it (full-width
    digits count as ASCII), in ``prefecture`` (a 6-digit code, see
    :func:`prefecture_code`), of ``kind``/``branch``; ``applying_only`` leaves out those
    that cannot apply (北方領土の村, the reviewing bodies). One page in code order::

        {"items": [{"id", "name", "kind", "branch", "prefecture_code", "can_apply"}],
         "total", "limit", "offset"}

    The prefecture filter is an equality on the indexed ``prefecture_code``; the text is
    a LIKE over at most the ~5,000 rows of the registry."""
    stmt = select(Organisation)
    text = (q or "").strip()
    if text:
        code = unicodedata.normalize("NFKC", text)
        stmt = stmt.where(or_(Organisation.id.icontains(code, autoescape=True),
                              Organisation.name.contains(text, autoescape=True)))
    if prefecture:
        stmt = stmt.where(Organisation.prefecture_code == prefecture)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    if branch:
        stmt = stmt.where(Organisation.branch == branch)
    if applying_only:
        stmt = stmt.where(Organisation.can_apply.is_(True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Organisation.id).limit(limit).offset(offset))
    items = [{"id": o.id, "name": o.name, "kind": o.kind, "branch": o.branch,
              "prefecture_code": o.prefecture_code, "can_apply": o.can_apply} for o in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def names_of(session: Session, ids) -> dict[str, Organisation]:
    """The registered organisations among ``ids``, by id (one query)."""
    wanted = {i for i in ids if isinstance(i, str) and i}
    if not wanted:
        return {}
    return {o.id: o for o in session.scalars(select(Organisation).where(
        Organisation.id.in_(wanted)))}


def org_names(session: Session, ids) -> dict[str, str]:
    """Organisation id -> name for the registered ones among ``ids`` (one query)."""
    return {i: o.name for i, o in names_of(session, ids).items()}


def count(session: Session) -> int:
    """How many organisations the registry holds."""
    return session.scalar(select(func.count(Organisation.id))) or 0


# --- Operator edits --------------------------------------------------------------------

class RegistryError(ValueError):
    """Bad registry input; ``problems`` are (location, Japanese message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in problems))
        self.problems = problems


UNION_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,39}$")
REGISTERED_SOURCE = "運用者登録"


def _audit(session: Session, org_id: str, action: str, actor: dict, before: dict | None,
           after: dict) -> None:
    """Keep the change twice: whole before and after in ``intake_org_audit`` (the
    organisation's own trail, ``GET /api/intake/organisations/ID/audit``), and what
    changed in the chained audit log (shared.audit), by the caller of the request or the
    command."""
    session.add(OrganisationAudit(org_id=org_id, action=action, actor=actor, before=before,
                                  after=after))
    audit.record(session, f"organisation.{action}", f"organisation:{org_id}",
                 _changes(before, after), subject_org=org_id)


def _changes(before: dict | None, after: dict) -> dict:
    """What changed, small: changed fields from/to, members added and removed."""
    if before is None:
        return {"name": after.get("name"), "kind": after.get("kind"),
                "prefecture_code": after.get("prefecture_code"),
                "members": len(after.get("members") or [])}
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new or key == "effective_attributes":
            continue
        if key == "members":
            out["members_added"] = sorted(set(new or []) - set(old or []))
            out["members_removed"] = sorted(set(old or []) - set(new or []))
        else:
            out[key] = {"from": old, "to": new}
    return out


def _check_attributes(org: Organisation | None, kind: str, branch: str,
                      attributes: Any) -> list[tuple[str, str]]:
    if not isinstance(attributes, dict):
        return [("attributes", "attributes はオブジェクトで指定してください。")]
    problems = []
    probe = org or Organisation(kind=kind, branch=branch, attributes={})
    for key, value in attributes.items():
        if key not in ATTRIBUTES:
            problems.append((f"attributes.{key}",
                             f"属性 {key} はありません（{', '.join(ATTRIBUTES)}）。"))
            continue
        if value is not None and not isinstance(value, bool):
            problems.append((f"attributes.{key}", "true、false または null で指定してください。"))
            continue
        fixed = ATTRIBUTES[key].by_law(probe)
        if value is not None and fixed is not None and value != fixed:
            problems.append((f"attributes.{key}",
                             f"{probe.kind}の「{ATTRIBUTES[key].label}」は法令で"
                             f"{'該当' if fixed else '非該当'}と決まっているため変更できません"
                             f"（{ATTRIBUTES[key].basis}）。"))
    return problems


def _check_members(session: Session, union_id: str, members: Any) -> list[tuple[str, str]]:
    if not isinstance(members, list) or not members:
        return [("members", "構成団体を1つ以上、機関IDの配列で指定してください。")]
    problems = []
    seen = set()
    for i, member_id in enumerate(members):
        loc = f"members[{i}]"
        if not isinstance(member_id, str):
            problems.append((loc, "機関IDを文字列で指定してください。"))
            continue
        if member_id in seen:
            problems.append((loc, f"構成団体 {member_id} が重複しています。"))
        seen.add(member_id)
        member = session.get(Organisation, member_id)
        if member is None:
            problems.append((loc, f"構成団体 {member_id} は機関マスタに登録されていません。"))
        elif member_id == union_id:
            problems.append((loc, "自分自身を構成団体にはできません。"))
        elif member.branch == "national":
            problems.append((loc, f"{member.name} は地方公共団体ではないため構成団体にできません。"))
    return problems


def _prefecture(session: Session, code: Any) -> Organisation | None:
    if not isinstance(code, str):
        return None
    org = session.get(Organisation, code)
    return org if org is not None and org.kind == "都道府県" and org.branch == "executive" else None


def register_union(session: Session, actor: dict, data: dict) -> Organisation:
    """Register a 一部事務組合・広域連合 with its members (operator)."""
    problems: list[tuple[str, str]] = []
    allowed = {"id", "name", "kind", "prefecture_code", "members", "attributes"}
    for key in sorted(set(data) - allowed):
        problems.append((key, "未知の項目です。"))
    union_id = data.get("id")
    if not isinstance(union_id, str) or not UNION_ID.match(union_id):
        problems.append(("id", "機関IDは英字で始まる英数字・ハイフン（2〜40文字、例: U130001-001）で指定してください。"))
    elif session.get(Organisation, union_id) is not None:
        problems.append(("id", f"機関ID {union_id} は既に登録されています。"))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(("name", "機関名を指定してください。"))
    kind = data.get("kind")
    if kind not in UNION_KINDS:
        problems.append(("kind", f"種別は {'、'.join(UNION_KINDS)} のいずれかです。"))
    if _prefecture(session, data.get("prefecture_code")) is None:
        problems.append(("prefecture_code", "取りまとめ都道府県の団体コード（例: 130001）を指定してください。"))
    problems += _check_members(session, str(union_id), data.get("members"))
    attributes = data.get("attributes", {})
    problems += _check_attributes(None, str(kind), "union", attributes)
    if problems:
        raise RegistryError(problems)
    org = Organisation(id=union_id, name=name.strip(), kind=kind, branch="union", lg_code=None,
                       prefecture_code=data["prefecture_code"], parent_id=None, can_apply=True,
                       attributes={k: v for k, v in attributes.items() if v is not None},
                       source=REGISTERED_SOURCE)
    session.add(org)
    session.flush()
    for member_id in data["members"]:
        session.add(OrganisationMember(union_id=union_id, member_id=member_id))
    session.flush()
    _audit(session, union_id, "registered", actor, None, describe_org(session, org))
    return org


def update_org(session: Session, actor: dict, org: Organisation, data: Any) -> Organisation:
    """PATCH an organisation (operator): ``attributes`` for any organisation (a value of
    null removes the operator's value); ``name``, ``members``, ``prefecture_code`` and
    ``can_apply`` only for an operator-registered one."""
    if not isinstance(data, dict) or not data:
        raise RegistryError([("", "変更する項目を JSON オブジェクトで指定してください。")])
    registered = org.source == REGISTERED_SOURCE
    problems: list[tuple[str, str]] = []
    for key in sorted(data):
        if key == "attributes":
            continue
        if key not in ("name", "members", "prefecture_code", "can_apply"):
            problems.append((key, "未知の項目です。"))
        elif not registered:
            problems.append((key, f"{key} は全国地方公共団体コードから読み込まれるため変更できません"
                                  "（変更できるのは attributes のみです）。"))
    if "attributes" in data:
        problems += _check_attributes(org, org.kind, org.branch, data["attributes"])
    if registered:
        if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
            problems.append(("name", "機関名を指定してください。"))
        if "members" in data:
            problems += _check_members(session, org.id, data["members"])
        if "prefecture_code" in data and _prefecture(session, data["prefecture_code"]) is None:
            problems.append(("prefecture_code", "取りまとめ都道府県の団体コード（例: 130001）を指定してください。"))
        if "can_apply" in data and not isinstance(data["can_apply"], bool):
            problems.append(("can_apply", "true か false で指定してください。"))
    if problems:
        raise RegistryError(problems)
    before = describe_org(session, org)
    if "attributes" in data:
        merged = dict(org.attributes or {})
        for key, value in data["attributes"].items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        org.attributes = merged
    if registered:
        if "name" in data:
            org.name = data["name"].strip()
        if "prefecture_code" in data:
            org.prefecture_code = data["prefecture_code"]
        if "can_apply" in data:
            org.can_apply = data["can_apply"]
        if "members" in data:
            session.execute(delete(OrganisationMember).where(
                OrganisationMember.union_id == org.id))
            for member_id in data["members"]:
                session.add(OrganisationMember(union_id=org.id, member_id=member_id))
    session.flush()
    after = describe_org(session, org)
    if after != before:
        _audit(session, org.id, "updated", actor, before, after)
    return org


def audit_of(session: Session, org_id: str) -> list[dict]:
    rows = session.scalars(select(OrganisationAudit).where(
        OrganisationAudit.org_id == org_id).order_by(OrganisationAudit.id))
    return [{"at": a.at.isoformat(), "action": a.action, "actor": a.actor,
             "before": a.before, "after": a.after} for a in rows]


# --- Demo data ---------------------------------------------------------------------------

EXAMPLE_UNION = {
    "id": "U130001-901", "name": "【デモ用の例】東京都後期高齢者医療広域連合（実在の登録ではありません）",
    "kind": "後期高齢者医療広域連合", "prefecture_code": "130001"}
DEMO_ACTOR = {"org_id": "MIC", "login": "demo-seed", "name": "デモデータ", "department": ""}


def seed_example_union(session: Session) -> bool:
    """The demo suite's example 広域連合 (labelled as an example; members: every Tokyo
    municipality). Returns whether it was added."""
    if session.get(Organisation, EXAMPLE_UNION["id"]) is not None:
        return False
    members = list(session.scalars(select(Organisation.id).where(
        Organisation.prefecture_code == "130001", Organisation.branch == "executive",
        Organisation.kind != "都道府県").order_by(Organisation.id)))
    if not members:
        return False
    register_union(session, DEMO_ACTOR, dict(EXAMPLE_UNION, members=members))
    return True


# --- What review needs of the registry ---------------------------------------------------

def announce_directory(ctx, session: Session) -> None:
    """Tell review and identity every organisation id of the registry with its name
    (``organisations.directory``, in the caller's transaction): review refuses a route
    to any other organisation and names organisations on its pages, identity shows
    accounts' organisations by name. Called after whatever adds organisations (refdata
    load, a union registered)."""
    session.flush()
    rows = session.execute(select(Organisation.id, Organisation.name)
                           .order_by(Organisation.id)).all()
    payload = {"org_ids": [r.id for r in rows], "generated_at": utcnow().isoformat(),
               "names": {r.id: r.name for r in rows}}
    for receiver in ("review", "identity"):
        ctx.emit(session, receiver, "organisations.directory", payload)
