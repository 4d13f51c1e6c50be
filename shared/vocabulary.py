"""Japanese names of the statuses and kinds users see (messages and pages alike)."""
from __future__ import annotations

STATUS = {
    "draft": "下書き", "validating": "提出前検証中", "submitted": "提出済",
    "forwarding": "経由機関確認中", "primary_review": "一次審査中",
    "secondary_review": "二次審査中", "returned": "差戻し", "approved": "承認済",
    "registered": "登録済", "withdrawn": "取下げ",
}
KIND = {"connection": "接続申請", "change": "変更申請", "account": "アカウント発行申請"}
# Every status a page shows: applications', forms', matching records' and deliveries'
# (the pages read this through the Jinja global NWS_STATUS, shared/templates/_nws.html).
STATUS_LABELS = {
    **STATUS,
    "valid": "誤りなし", "invalid": "誤りあり",
    "pending": "確認待ち", "confirmed": "確認済", "disputed": "異議あり",
    "matched": "一致", "mismatched": "不一致", "unpaired": "相手方未申請", "active": "有効",
    "error": "誤り", "chain_incomplete": "連鎖の記載不足", "counterpart_missing": "相手方未申請",
    "awaiting_confirmation": "委任元の確認待ち",
    "delivered": "配信済", "failed": "失敗", "cancelled": "取消", "retrying": "再試行中",
    # a review case no router could route (a routing plugin at fault): an operator acts
    "unroutable": "振分けできません",
}


def status_name(status: str | None) -> str:
    return STATUS.get(status or "", status or "")


def kind_name(kind: str | None) -> str:
    return KIND.get(kind or "", kind or "")
