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
    # a review case between its arrival and its routing
    "received": "受付済",
}


# Names of stored fields that no form's schema labels (the master's own columns, the
# audit log's details); the forms' own labels come from their schemas
# (shared.formview.field_labels), and the pages read both through field_label().
FIELD_LABELS = {
    "name": "名称", "title": "役職名", "org": "機関", "org_id": "機関コード",
    "kind": "種類", "branch": "部局", "prefecture_code": "都道府県コード",
    "parent_id": "上位機関", "application_id": "申請ID", "number": "申請番号",
    "round": "提出回数", "status": "状態", "stage": "段階", "comment": "コメント",
    "result": "結果", "reason": "理由", "login": "ログイン名", "role": "役割",
    "department": "部署名", "email": "メールアドレス", "phone": "電話番号",
    "form": "様式", "code": "コード", "version": "版", "catalog": "参照データ",
    "count": "件数", "channel": "経路", "master_version": "マスタの版",
    "acknowledged_matching": "突合未了を確認済み", "query_affairs": "情報照会を行う事務",
    "provided_info": "情報提供を行う特定個人情報", "item_no": "別表 項番",
    "info_no": "特定個人情報番号", "choice": "選択", "delegators": "委任元機関",
    "counterpart": "相手方機関", "revision": "版数", "phase": "工程",
    "delegator": "委任元機関", "delegatee": "委任先機関", "members": "構成団体",
}


# Values the audit log's details and the master's pages hold, by the names pages show
# (templates: NWS_VALUE).
VALUE_LABELS = {"page": "画面", "api": "API", "cli": "コマンド", "loaded": "読込済",
                "skipped": "変更なし", "immediate": "即時公開", "manual": "手動公開",
                "snapshot": "全件", "diff": "差分", "primary": "一次審査",
                "secondary": "二次審査"}
# The kinds of things the audit log names as its targets ("application:42").
AUDIT_TARGETS = {"application": "申請ID", "version": "マスタ 版", "account": "アカウント",
                 "org": "機関", "organisation": "機関", "webhook": "通知先",
                 "subscription": "購読", "confirmation": "確認依頼", "publication": "公開方法",
                 "catalog": "参照データ", "allowance": "期限後の受付許可"}


# The events of an application's history (intake's history, review's, the print view),
# with the names the pages show (templates: NWS_EVENT). Review reports its events to
# intake in ``application.status_changed``; tests/shared/test_event_names.py checks
# that every event the code records has its name here.
HISTORY_EVENTS = {
    "created": "申請作成",
    "form_saved": "様式保存",
    "selection_saved": "申請前情報選択の保存",
    "submit_requested": "提出",
    "submitted": "受付",
    "validation_failed": "提出前検証で誤り",
    "routed": "審査機関の決定",
    "forwarding_approved": "経由機関 承認",
    "forwarding_rejected": "経由機関 差戻し",
    "primary_approved": "一次審査 承認",
    "primary_rejected": "一次審査 否認",
    "secondary_approved": "二次審査 承認",
    "secondary_rejected": "二次審査 否認",
    "registered": "マスタ登録",
    "prepared": "マスタ整備",
    "withdrawn": "取下げ",
    "withdrawal_received": "取下げ受付",
    "overdue": "期限超過",
    "account_issued": "アカウント発行",
    "withdrawal_requested": "取下げの依頼",
    "withdrawal_refused": "取下げ不可（判定が先に確定）",
    "matching_acknowledged": "突合の未解決を確認のうえ承認",
    "master_prepared": "マスタ整備",
    "routing_failed": "振分けできません",
    "rerouted": "振り分け直し",
    "reroute_failed": "振り分け直し失敗",
    "upload_received": "Excel ファイルのアップロード",
    "upload_read": "Excel ファイルの読込み",
    "attachment_added": "添付資料の登録",
    "attachment_deleted": "添付資料の削除",
    "late_allowed": "期限後の受付を許可",
    "late_accepted": "期限後の受付",
}


def status_name(status: str | None) -> str:
    """The Japanese name of any status a user may read of (applications, review cases,
    forms, matching records, deliveries): pages, messages and the 409s name it so."""
    return STATUS_LABELS.get(status or "", status or "")


def kind_name(kind: str | None) -> str:
    return KIND.get(kind or "", kind or "")


# The actions each service's audit log records (shared.audit; docs/runbook.md "Audit
# log"), with the names the audit pages show.
AUDIT_ACTIONS = {
    "intake": {
        "application.created": "申請の作成",
        "application.selection_saved": "申請前情報選択の保存",
        "application.form_saved": "様式の保存",
        "application.workbook_uploaded": "Excel ファイルのアップロード",
        "application.attachment_added": "添付資料の登録",
        "application.attachment_deleted": "添付資料の削除",
        "application.submitted": "申請の提出",
        "application.withdrawal_requested": "取下げの依頼",
        "application.withdrawn": "申請の取下げ",
        "account_request.filed": "アカウント発行申請の受付",
        "account_request.resubmitted": "アカウント発行申請の再提出",
        "organisation.registered": "機関の登録（一部事務組合・広域連合）",
        "organisation.updated": "機関情報の変更",
        "refdata.loaded": "参照データの読込み",
        "late_allowance.granted": "期限後の受付の許可",
        "late_allowance.used": "期限後の受付（許可による）",
    },
    "review": {
        "decision.approved": "審査 承認",
        "decision.rejected": "審査 否認（差戻し）",
        "withdrawal.received": "取下げ依頼の受付",
        "withdrawal.completed": "取下げの完了",
        "withdrawal.refused": "取下げ不可（判定が先に確定）",
        "schedule.changed": "スケジュールの変更",
        "webhook.created": "Webhook の登録",
        "webhook.deleted": "Webhook の削除",
        "webhook.secret_added": "Webhook シークレットの追加",
        "webhook.secret_retired": "Webhook シークレットの廃止",
        "webhook.redelivered": "Webhook の再送",
    },
    "matching": {
        "confirmation.answered": "委任情報確認依頼への回答",
    },
    "master": {
        "publication.mode_changed": "公開方式の変更",
        "master.published": "配信（整備済み登録のマスタ反映）",
        "master.version_created": "マスタ版の作成（即時公開）",
        "master.prepared": "マスタデータ整備への登録",
        "subscription.created": "購読の登録",
        "subscription.deleted": "購読の停止",
        "subscription.acknowledged": "購読者の反映確認",
    },
    "identity": {
        "login.succeeded": "ログイン成功",
        "login.failed": "ログイン失敗",
        "logout": "ログアウト",
        "password.changed": "パスワード変更（本人）",
        "account.created": "アカウント作成",
        "account.issued": "アカウント発行（発行申請の承認）",
        "account.activated": "アカウントの有効化（初回パスワード設定）",
        "account.disabled": "アカウントの無効化",
        "account.enabled": "アカウントの再有効化",
        "account.role_changed": "役割の変更",
        "account.password_set": "パスワードの再設定（運用者）",
        "account.sessions_ended": "セッションの終了",
        "account.unlocked": "ログイン制限の解除",
        "account.password_link_issued": "パスワード設定用のリンクの発行（運用者）",
        "account.password_reset": "パスワードの再設定（一回限りのリンク）",
        "account.notifications_changed": "通知設定の変更",
    },
}
# Who else than an account's role may appear as the actor of an audit entry.
AUDIT_ACTOR_ROLES = {"system": "システム", "cli": "コマンド（nws）", "subscriber": "購読者",
                     "anonymous": "未ログイン"}
