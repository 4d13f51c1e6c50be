"""Request and response schemas of the intake API."""
from marshmallow import fields, validate

from shared.schemas import BaseSchema, ResponseSchema
from services.intake.applications import WITHDRAW_REASON_MAX


class ApplicationPostSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(
        ["connection", "change"], error="kind は connection または change です。"),
        metadata={"description": "connection（接続申請）または change（変更申請）"})


class FindingSchema(ResponseSchema):
    rule = fields.String(required=True, metadata={"description": "規則の ID（例: 02-01.required）"})
    severity = fields.String(required=True, metadata={"description": "error または warning"})
    location = fields.String(required=True, metadata={"description": "項目の位置（例: writer.name）"})
    message = fields.String(required=True, metadata={"description": "日本語の説明"})


class FormStatusSchema(ResponseSchema):
    status = fields.String(required=True, metadata={"description": "validating, valid, invalid など"})
    revision = fields.Integer(required=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True)


class HistorySchema(ResponseSchema):
    at = fields.DateTime(required=True)
    round = fields.Integer()
    event = fields.String(required=True)
    status = fields.String(required=True, allow_none=True)
    stage = fields.String(allow_none=True)
    org_id = fields.String(allow_none=True)
    actor = fields.Dict(allow_none=True)
    comment = fields.String(allow_none=True)


class UploadSchema(ResponseSchema):
    id = fields.Integer(required=True)
    filename = fields.String(required=True)
    archive = fields.String(allow_none=True, metadata={"description": "このブックが入っていた zip のファイル名"})
    size = fields.Integer(required=True)
    status = fields.String(required=True)
    forms = fields.Raw(allow_none=True, metadata={"description": "ブックから読み取った様式"})
    findings = fields.Raw(allow_none=True)
    at = fields.DateTime(required=True)


class AttachmentSchema(ResponseSchema):
    id = fields.String(required=True, metadata={"description": "添付資料ID（様式から参照する）"})
    filename = fields.String(required=True)
    title = fields.String(allow_none=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    at = fields.DateTime()


class ApplicationResponseSchema(ResponseSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "申請番号"})
    kind = fields.String(required=True, metadata={"description": "connection, change, account"})
    org = fields.String(required=True, metadata={"description": "機関 ID"})
    status = fields.String(required=True)
    round = fields.Integer(required=True)
    stage = fields.String(required=True, allow_none=True)
    withdrawal_requested = fields.Boolean(required=True)
    catalog_version = fields.String(required=True, allow_none=True)
    master_version = fields.Integer(required=True, allow_none=True)
    forms = fields.Dict(keys=fields.String(), values=fields.Nested(FormStatusSchema), required=True,
                        metadata={"description": "様式コードごとの状態と指摘"})
    findings = fields.List(fields.Nested(FindingSchema), required=True, allow_none=True)
    history = fields.List(fields.Nested(HistorySchema), required=True)
    uploads = fields.List(fields.Nested(UploadSchema), required=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), required=True)
    processing_problem = fields.Boolean(required=True, metadata={
        "description": "この申請の処理が止まっている（運用者の対応が必要）"})


class ApplicationCreatedSchema(ResponseSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)


class ApplicationSummarySchema(ResponseSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    round = fields.Integer(required=True)
    updated_at = fields.DateTime(required=True)


class ApplicationListSchema(ResponseSchema):
    items = fields.List(fields.Nested(ApplicationSummarySchema), required=True)


class FormSavedSchema(ResponseSchema):
    code = fields.String(required=True)
    revision = fields.Integer(required=True)
    status = fields.String(required=True)


class SubmittedSchema(ResponseSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)
    round = fields.Integer(required=True)


class PdfPendingSchema(ResponseSchema):
    """GET .pdf while the PDF is being made (202)."""

    status = fields.String(required=True, metadata={"description": "pending（作成中）"})
    message = fields.String(required=True, metadata={"description": "利用者向けの説明（日本語）"})
    retry_after = fields.Integer(required=True, metadata={
        "description": "もう一度取得するまでの秒数（Retry-After ヘッダーと同じ）"})
    location = fields.String(required=True, metadata={"description": "取得し直す URL"})


class WithdrawnSchema(SubmittedSchema):
    withdrawal_requested = fields.Boolean(required=True, metadata={
        "description": "審査側の判断を待っている（202）"})


WITHDRAW_BODY = {"type": "object", "properties": {
    "reason": {"type": "string", "maxLength": WITHDRAW_REASON_MAX,
               "description": f"取下げの理由（任意、{WITHDRAW_REASON_MAX:,} 文字以内。申請の履歴に残る）"}}}


class FormTitleSchema(ResponseSchema):
    code = fields.String(required=True)
    title = fields.String(required=True)


class FormListSchema(ResponseSchema):
    items = fields.List(fields.Nested(FormTitleSchema), required=True)


class FormDataSchema(ResponseSchema):
    code = fields.String(required=True)
    saved = fields.Boolean(required=True, metadata={"description": "false: 保存されておらず、事前記入したもの"})
    data = fields.Dict(required=True, metadata={"description": "様式のデータ（PUT と同じ形）"})
    status = fields.String(required=True, allow_none=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True, allow_none=True)


class RegisteredSchema(ResponseSchema):
    org = fields.String(required=True)
    registered = fields.Boolean(required=True)
    application_id = fields.Integer()
    master_version = fields.Integer(allow_none=True)
    forms = fields.Dict(required=True, metadata={"description": "様式コードごとの登録内容"})
    selection = fields.Dict(required=True, allow_none=True)


class UploadAcceptedSchema(ResponseSchema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    forms = fields.Raw(allow_none=True)


class BatchFileErrorSchema(ResponseSchema):
    code = fields.String(required=True)
    message = fields.String(required=True, metadata={"description": "受け付けなかった理由（日本語）"})


class BatchFileSchema(ResponseSchema):
    filename = fields.String(required=True, metadata={"description": "ファイル名（zip の中のものは zip の中の名前）"})
    archive = fields.String(required=True, allow_none=True,
                            metadata={"description": "入っていた zip のファイル名（zip でなければ null）"})
    id = fields.Integer(required=True, allow_none=True,
                        metadata={"description": "アップロードの ID（GET …/uploads の id）"})
    status = fields.String(required=True, metadata={"description": "received（受付済み）| rejected（受け付けず）"})
    forms = fields.List(fields.String(), required=True)
    error = fields.Nested(BatchFileErrorSchema)


class UploadBatchSchema(ResponseSchema):
    files = fields.List(fields.Nested(BatchFileSchema), required=True)
    accepted = fields.Integer(required=True)
    rejected = fields.Integer(required=True)


class UploadFindingSchema(ResponseSchema):
    rule = fields.String(required=True)
    severity = fields.String(required=True)
    location = fields.String(required=True)
    message = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "様式・シート・セル付きの指摘（日本語）"})


class UploadItemSchema(ResponseSchema):
    id = fields.Integer(required=True)
    filename = fields.String(required=True)
    archive = fields.String(required=True, allow_none=True)
    size = fields.Integer(required=True)
    size_text = fields.String(required=True, metadata={"description": "サイズ（MB）"})
    forms = fields.List(fields.String(), required=True)
    state = fields.String(required=True, metadata={
        "description": "received | validating | valid | invalid | failed"})
    label = fields.String(required=True, metadata={
        "description": "受付済み・検証中・誤りなし・誤りあり n件・読み込めません（理由）"})
    errors = fields.Integer(required=True)
    warnings = fields.Integer(required=True)
    findings = fields.List(fields.Nested(UploadFindingSchema), required=True)
    uploaded_at = fields.DateTime(required=True)
    processed_at = fields.DateTime(required=True, allow_none=True)


class UploadListSchema(ResponseSchema):
    items = fields.List(fields.Nested(UploadItemSchema), required=True)


class AttachmentReferenceSchema(ResponseSchema):
    form = fields.String(required=True, metadata={"description": "様式コード（例 03-08）"})
    path = fields.String(required=True, metadata={"description": "様式のデータ内の位置"})
    location = fields.String(required=True,
                             metadata={"description": "様式とブックのシート・セル"})
    label = fields.String(required=True, metadata={"description": "行と欄（日本語）"})


class AttachmentItemSchema(ResponseSchema):
    id = fields.String(required=True, metadata={"description": "添付資料ID（様式から参照する）"})
    filename = fields.String(required=True)
    title = fields.String(required=True, metadata={"description": "資料の名称"})
    size = fields.Integer(required=True, metadata={"description": "バイト数"})
    sha256 = fields.String(required=True)
    uploaded_by = fields.Dict(required=True,
                              metadata={"description": "登録したアカウント（機関・ログイン・氏名・部署）"})
    uploaded_at = fields.DateTime(required=True)
    referenced_by = fields.List(fields.Nested(AttachmentReferenceSchema), required=True,
                                metadata={"description": "この添付資料IDを記入した様式の欄"})


class AttachmentListSchema(ResponseSchema):
    items = fields.List(fields.Nested(AttachmentItemSchema), required=True)


class AttachmentAddedSchema(ResponseSchema):
    id = fields.String(required=True, metadata={"description": "添付資料ID"})
    filename = fields.String(required=True)
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True)


def multipart_file(description: str, *, title: bool = False) -> dict:
    """The multipart/form-data body of an upload (field ``file``)."""
    props: dict = {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                            "description": description}}
    if title:
        props["title"] = {"type": "string", "description": "資料の表題（任意）"}
    return {"type": "object", "properties": props, "required": ["file"]}


def multipart_files(description: str) -> dict:
    """The multipart/form-data body of a batch upload (field ``file``, repeated)."""
    return {"type": "object", "properties": {"file": {
        "type": "array", "description": description,
        "items": {"type": "string", "contentMediaType": "application/octet-stream"}}},
        "required": ["file"]}


# --- the organisation registry, the catalog, the selection ------------------------------

class OrganisationSchema(ResponseSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    branch = fields.String(required=True, allow_none=True)
    lg_code = fields.String(required=True, allow_none=True)
    prefecture_code = fields.String(required=True, allow_none=True)
    parent_id = fields.String(required=True, allow_none=True)
    can_apply = fields.Boolean(required=True)
    source = fields.String(required=True, allow_none=True)
    attributes = fields.Dict(required=True)
    reference_attributes = fields.Dict(required=True)
    effective_attributes = fields.Dict(required=True)
    members = fields.List(fields.String(), metadata={"description": "一部事務組合・広域連合の構成団体"})


class OrganisationRowSchema(ResponseSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    branch = fields.String(required=True, allow_none=True)
    prefecture_code = fields.String(required=True, allow_none=True)
    can_apply = fields.Boolean(required=True)


class OrganisationListSchema(ResponseSchema):
    items = fields.List(fields.Nested(OrganisationRowSchema), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class OrganisationQuerySchema(BaseSchema):
    q = fields.String(metadata={"description": "機関 ID または名称の一部（全角数字も可）"})
    kind = fields.String(metadata={"description": "種別"})
    branch = fields.String(metadata={"description": "部局"})
    prefecture = fields.String(metadata={
        "description": "都道府県: 団体コード（6 桁、例 130001）、2 桁の番号（例 13）または名称（例 東京都）"})
    pref = fields.String(metadata={"description": "prefecture の別名（両方あれば prefecture）"})
    applying = fields.String(metadata={
        "description": "1 または true: 申請できる機関だけ（北方領土の村・審査機関を除く）"})
    limit = fields.Integer(metadata={"description": "件数（1〜500 に丸める。既定 100）"})
    offset = fields.Integer(validate=validate.Range(max=2 ** 31 - 1), metadata={
        "description": "先頭から飛ばす件数（既定 0。負の値は 0）"})


class RegistryAuditEntrySchema(ResponseSchema):
    at = fields.DateTime(required=True)
    action = fields.String(required=True)
    actor = fields.Dict(required=True, allow_none=True)
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class AuditSchema(ResponseSchema):
    items = fields.List(fields.Nested(RegistryAuditEntrySchema), required=True)


UNION_BODY = {"type": "object", "required": ["id", "name", "kind", "prefecture_code", "members"],
              "properties": {
                  "id": {"type": "string", "description": "運用者が割り当てる機関 ID"},
                  "name": {"type": "string"},
                  "kind": {"type": "string", "description": "一部事務組合 または 広域連合 の種別"},
                  "prefecture_code": {"type": "string"},
                  "members": {"type": "array", "items": {"type": "string"},
                              "description": "構成団体の機関 ID"},
                  "attributes": {"type": "object"}}}
ORGANISATION_PATCH_BODY = {"type": "object", "properties": {
    "name": {"type": "string"}, "prefecture_code": {"type": "string"},
    "members": {"type": "array", "items": {"type": "string"}},
    "can_apply": {"type": "boolean"}, "attributes": {"type": "object"}}}


class CatalogQuerySchema(BaseSchema):
    org = fields.String(metadata={"description": "機関 ID（申請者・経由機関は省略時に自機関）"})


class AffairSchema(ResponseSchema):
    item_no = fields.String(required=True, metadata={"description": "別表の項番"})
    affair = fields.String(required=True)
    reason = fields.String(metadata={"description": "選択が必要な理由"})


class InfoSchema(ResponseSchema):
    info_no = fields.String(required=True)
    info_name = fields.String(required=True)
    reason = fields.String()


class AffairGroupsSchema(ResponseSchema):
    automatic = fields.List(fields.Nested(AffairSchema), required=True)
    needs_choice = fields.List(fields.Nested(AffairSchema), required=True)


class InfoGroupsSchema(ResponseSchema):
    automatic = fields.List(fields.Nested(InfoSchema), required=True)
    needs_choice = fields.List(fields.Nested(InfoSchema), required=True)


class CatalogSchema(ResponseSchema):
    org = fields.Nested(OrganisationSchema, required=True)
    catalog_version = fields.String(required=True)
    query_affairs = fields.Nested(AffairGroupsSchema, required=True)
    provided_info = fields.Nested(InfoGroupsSchema, required=True)


class CatalogVersionSchema(ResponseSchema):
    version = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    activated_at = fields.DateTime(required=True)
    checksum = fields.String(required=True)
    sources = fields.Raw(required=True, allow_none=True)
    current = fields.Boolean(required=True)


class CatalogVersionListSchema(ResponseSchema):
    items = fields.List(fields.Nested(CatalogVersionSchema), required=True)


SELECTION_BODY = {
    "type": "object", "description": "DESIGN §3 の選択（automatic の行は指定がなければ 照会する / 提供する）",
    "properties": {
        "query_affairs": {"type": "array", "items": {
                          "type": "object", "required": ["item_no", "choice"],
                          "properties": {
                              "item_no": {"type": "string"},
                              "choice": {"enum": ["照会する", "情報照会を行わない", "受任事務"]},
                              "delegators": {"type": "array", "items": {"type": "string"}}}}},
        "provided_info": {"type": "array", "items": {
                          "type": "object", "required": ["info_no", "choice"],
                          "properties": {
                              "info_no": {"type": "string"},
                              "choice": {"enum": ["提供する", "情報提供を行わない",
                                                  "受任により情報提供を行う", "委任した"]},
                              "counterpart": {"type": "string"}}}},
        "independent_affairs": {"type": "array", "items": {"type": "object"}}}}


class SelectionSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    catalog_version = fields.String(required=True, allow_none=True)
    saved = fields.Boolean(required=True)
    selection = fields.Dict(required=True, allow_none=True, metadata={"description": "保存された選択"})
    effective = fields.Dict(required=True, metadata={"description": "既定の行を含めた、申請が宣言する行"})


# --- アカウント発行申請 -------------------------------------------------------------------

class RequesterSchema(BaseSchema):
    department = fields.String(required=True, validate=validate.Length(min=1, max=100),
                               metadata={"description": "部署名"})
    title = fields.String(load_default="", validate=validate.Length(max=100),
                          metadata={"description": "職名"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "氏名"})
    email = fields.Email(required=True, metadata={"description": "連絡先メールアドレス"})
    phone = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9+\-() ]{6,20}$", error="電話番号は数字とハイフンで入力してください。"),
        metadata={"description": "連絡先電話番号"})


class AccountRequestPostSchema(BaseSchema):
    org = fields.String(required=True, validate=validate.Length(min=1, max=40),
                        metadata={"description": "申請する機関の ID（例: 131016, 131016-BOE）"})
    login = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9._@-]{3,100}$",
        error="ログイン名は半角英数字と . _ @ - の 3〜100 文字にしてください。"),
        metadata={"description": "希望するログイン名（使用済みなら末尾に番号が付きます）"})
    requester = fields.Nested(RequesterSchema, required=True,
                              metadata={"description": "申請担当者"})


class AccountRequestPutSchema(BaseSchema):
    login = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9._@-]{3,100}$",
        error="ログイン名は半角英数字と . _ @ - の 3〜100 文字にしてください。"),
        metadata={"description": "希望するログイン名"})
    requester = fields.Nested(RequesterSchema, required=True,
                              metadata={"description": "申請担当者"})


class AccountRequestCreatedSchema(ResponseSchema):
    number = fields.String(required=True, metadata={"description": "受付番号"})
    receipt_token = fields.String(required=True, metadata={
        "description": "受付トークン（受付票の参照・再申請の X-Receipt-Token に使う）"})
    status = fields.String(required=True)
    receipt_url = fields.String(required=True)


class IssuedAccountSchema(ResponseSchema):
    login = fields.String(required=True)
    activation_token = fields.String(required=True)
    activation_page = fields.String(required=True, metadata={
        "description": "有効化の画面（トークンはフォームで送る。URL には含めない）"})
    activation_api = fields.String(required=True, metadata={
        "description": "有効化の API（POST {\"token\", \"password\"}）"})
    expires_at = fields.DateTime(required=True)
    expired = fields.Boolean(required=True)


class ReceiptHistorySchema(ResponseSchema):
    at = fields.DateTime(required=True)
    event = fields.String(required=True)
    status = fields.String(required=True, allow_none=True)
    stage = fields.String(required=True, allow_none=True)
    org_id = fields.String(required=True, allow_none=True)
    comment = fields.String(required=True, allow_none=True)


class AccountRequestReceiptSchema(ResponseSchema):
    number = fields.String(required=True)
    status = fields.String(required=True)
    stage = fields.String(required=True, allow_none=True)
    org = fields.String(required=True)
    login_requested = fields.String(required=True, allow_none=True)
    history = fields.List(fields.Nested(ReceiptHistorySchema), required=True)
    account = fields.Nested(IssuedAccountSchema, required=True, allow_none=True,
                            metadata={"description": "発行されたアカウント（発行前は null）"})
    accounts = fields.List(fields.Nested(lambda: IssuedAccountWithRoleSchema()), required=True,
                           metadata={"description": "発行されたすべてのアカウント（最初は account と同じ。"
                                                    "市区町村の首長部局には経由機関のアカウントも発行される）"})


class IssuedAccountWithRoleSchema(IssuedAccountSchema):
    role = fields.String(required=True, metadata={"description": "applicant または forwarder"})


class AccountRequestResubmittedSchema(ResponseSchema):
    number = fields.String(required=True)
    status = fields.String(required=True)
    round = fields.Integer(required=True)


RECEIPT_TOKEN_HEADER = {"in": "header", "name": "X-Receipt-Token", "required": False,
                        "schema": {"type": "string"},
                        "description": "受付トークン（受付時に返されたもの）"}


# --- deadlines for applicants (issue 13) ----------------------------------------------

class SchedulePhaseSchema(ResponseSchema):
    phase = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "工程名"})
    starts_on = fields.Date(required=True, allow_none=True, metadata={"description": "開始日（日本時間）"})
    ends_on = fields.Date(required=True, allow_none=True, metadata={"description": "期限（日本時間、この日まで）"})
    state = fields.String(required=True, metadata={"description": "open（期間中）, upcoming（開始前）, closed（終了）, unset（期限未設定）"})


class ApplicantScheduleSchema(ResponseSchema):
    today = fields.Date(required=True, metadata={"description": "今日（日本時間）"})
    phases = fields.List(fields.Nested(SchedulePhaseSchema), required=True)
    current = fields.List(fields.Nested(SchedulePhaseSchema), required=True,
                          metadata={"description": "今日が期間中の工程"})


class LateAllowancePostSchema(BaseSchema):
    phase = fields.String(required=True, validate=validate.OneOf(
        ["account_request", "connection_request"],
        error="phase は account_request（アカウント発行申請）または connection_request（接続申請）です。"),
        metadata={"description": "期限後の受付を許可する工程"})
    org = fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                        metadata={"description": "許可する機関の ID（org と application_id のどちらか一方）"})
    application_id = fields.Integer(load_default=None, strict=True,
                                    metadata={"description": "許可する申請の ID"})
    reason = fields.String(required=True, validate=validate.Length(
        min=1, max=500, error="reason は 1〜500 文字で記入してください。"),
        metadata={"description": "許可の理由"})


class LateAllowanceSchema(ResponseSchema):
    id = fields.Integer(required=True)
    phase = fields.String(required=True)
    org = fields.String(required=True, allow_none=True)
    application_id = fields.Integer(required=True, allow_none=True)
    reason = fields.String(required=True)
    granted_by = fields.Dict(required=True)
    granted_at = fields.String(required=True)


class LateAllowanceListSchema(ResponseSchema):
    items = fields.List(fields.Nested(LateAllowanceSchema), required=True)


class AccountRequestListQuerySchema(BaseSchema):
    q = fields.String(metadata={"description": "受付番号・機関コード・機関名・希望するログイン名・申請者の氏名・発行されたログイン名の一部"})
    status = fields.String(metadata={"description": "状態"})
    sort = fields.String(validate=validate.OneOf(
        ["number", "org", "org_name", "login", "requester", "status", "submitted"]),
        metadata={"description": "並べ替えの列（既定: submitted = 提出日時）"})
    order = fields.String(validate=validate.OneOf(["asc", "desc"]),
                          metadata={"description": "asc または desc（既定）"})
    page = fields.Integer(validate=validate.Range(min=1, max=999999), metadata={"description": "ページ（1 から）"})
    per_page = fields.Integer(validate=validate.Range(min=1, max=200),
                              metadata={"description": "1 ページの件数（既定 50、最大 200）"})


class IssuedAccountRefSchema(ResponseSchema):
    login = fields.String(required=True)
    role = fields.String(required=True)


class AccountRequestListItemSchema(ResponseSchema):
    application_id = fields.Integer(required=True)
    number = fields.String(required=True)
    org = fields.String(required=True, metadata={"description": "機関 ID"})
    org_name = fields.String(required=True, allow_none=True)
    login_requested = fields.String(required=True, allow_none=True)
    requester = fields.String(required=True, allow_none=True, metadata={"description": "申請者の氏名"})
    status = fields.String(required=True)
    stage = fields.String(required=True, allow_none=True)
    round = fields.Integer(required=True)
    submitted_at = fields.DateTime(required=True, allow_none=True)
    issued_at = fields.DateTime(required=True, allow_none=True)
    accounts = fields.List(fields.Nested(IssuedAccountRefSchema), required=True,
                           metadata={"description": "発行されたアカウント（有効化トークンは含まない）"})


class AccountRequestListSchema(ResponseSchema):
    items = fields.List(fields.Nested(AccountRequestListItemSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
