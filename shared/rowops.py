"""Row operations of the list forms: each row's 申請区分 applied to what is registered.

The list forms (様03-07, 03-08, 03-09) carry a 申請区分 per row. A 変更申請 changes the
registered rows by key, row by row:

- 登録 adds a row whose key is not registered,
- 変更 replaces the registered row with that key,
- 削除 removes the registered row with that key,
- 変更なし carries a registered row unchanged (a 変更申請 starts from what is registered,
  so its forms show every registered row; only the rows marked otherwise change).

Rows a change does not mention stay exactly as registered. A first application (接続申請)
registers its rows (登録) as they are. Single-record forms (no list fields) replace the
registered record when included.

Intake folds approved applications with :func:`fold_forms` to know what an organisation
has registered (the start of its next 変更申請, the context of cross-form rules); the
master applies the same operations to its rows (services/master/content.py), and the
lifecycle property test checks the two against each other.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Iterable, Mapping

ADD, CHANGE, DELETE, KEEP = "登録", "変更", "削除", "変更なし"
ROW_TYPES = (ADD, CHANGE, DELETE, KEEP)
# what a row without a 申請区分 is (older JSON of 03-08 and 03-09 had none)
DEFAULT_ROW_TYPE = ADD

RowKeys = Mapping[str, tuple[str, ...]]   # list field -> the columns that key a row


def key_of(row: Mapping[str, Any], columns: Iterable[str]) -> str:
    """A row's key: its key columns joined by "|" (blank for a missing column)."""
    return "|".join("" if row.get(c) is None else str(row.get(c)) for c in columns)


def row_type(row: Mapping[str, Any]) -> str:
    return row.get("request_type") or DEFAULT_ROW_TYPE


def content(row: Mapping[str, Any]) -> dict:
    """A row as registered: everything but its 申請区分."""
    return {k: v for k, v in row.items() if k != "request_type"}


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def canon(row):
        return json.dumps(content(row), ensure_ascii=False, sort_keys=True)
    return canon(a) == canon(b)


def fold_form(registered: Mapping[str, Any] | None, change: Mapping[str, Any],
              row_keys: RowKeys, *, first: bool = False) -> dict:
    """The form as registered after ``change`` is applied to ``registered``.

    Fields other than the list fields come from ``change``. ``first`` (a 接続申請)
    registers the change's rows as they are, 削除 rows left out."""
    out = copy.deepcopy(dict(change))
    for field, columns in row_keys.items():
        rows: dict[str, dict] = {}
        if not first:
            for row in (registered or {}).get(field) or []:
                rows[key_of(row, columns)] = content(row)
        for row in change.get(field) or []:
            kind, key = row_type(row), key_of(row, columns)
            if kind == DELETE:
                rows.pop(key, None)
            elif kind == KEEP and not first:
                continue
            else:
                rows[key] = content(copy.deepcopy(row))
        out[field] = list(rows.values())
    return out


def fold_forms(registered: Mapping[str, Mapping[str, Any]], change: Mapping[str, Mapping[str, Any]],
               row_keys: Mapping[str, RowKeys], *, first: bool = False) -> dict[str, dict]:
    """Every form as registered after an approved application: the forms it includes
    folded into the registered ones (a first application replaces them all), the others
    as they were."""
    out = {} if first else {code: copy.deepcopy(dict(data)) for code, data in registered.items()}
    for code, data in change.items():
        out[code] = fold_form(None if first else registered.get(code), data,
                              row_keys.get(code) or {}, first=first)
    return out


def as_registered_rows(form: Mapping[str, Any], row_keys: RowKeys) -> dict:
    """A registered form as the start of a 変更申請: every row marked 変更なし."""
    out = copy.deepcopy(dict(form))
    for field in row_keys:
        out[field] = [{**row, "request_type": KEEP} for row in out.get(field) or []]
    return out
