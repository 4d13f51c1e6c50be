"""Japanese names of the statuses and kinds users see (messages and pages alike)."""
from __future__ import annotations

STATUS = {
    "draft": "下書き", "validating": "提出前検証中", "submitted": "提出済",
    "forwarding": "経由機関確認中", "primary_review": "一次審査中",
    "secondary_review": "二次審査中", "returned": "差戻し", "approved": "承認済",
    "registered": "登録済", "withdrawn": "取下げ",
}
KIND = {"connection": "接続申請", "change": "変更申請", "account": "アカウント発行申請"}


def status_name(status: str | None) -> str:
    return STATUS.get(status or "", status or "")


def kind_name(kind: str | None) -> str:
    return KIND.get(kind or "", kind or "")
