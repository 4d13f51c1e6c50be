"""The messages services exchange: one versioned marshmallow schema per message type.

A sender dumps its payload through the schema of (type, version) and a receiver loads
it through the same schema, so a malformed or unknown message is refused at the door.
A new payload shape is a new version: add ``(type, 2)`` beside ``(type, 1)`` and keep
accepting the old one until no sender emits it.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate


class Payload(Schema):
    class Meta:
        unknown = RAISE


class OrgRef(Payload):
    """An organisation as it travels in messages (copied from intake's registry)."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    branch = fields.String(required=True, validate=validate.OneOf(["executive", "board_of_education", "union", "national"]))
    prefecture_code = fields.String(allow_none=True, load_default=None)
    parent_id = fields.String(allow_none=True, load_default=None)


class Actor(Payload):
    org_id = fields.String(required=True)
    login = fields.String(required=True)
    name = fields.String(required=True)
    department = fields.String(load_default="")


class OutboxAck(Payload):
    message_id = fields.String(required=True)


class FormValidationRequested(Payload):
    """intake → intake (version 1, still accepted): validate one form revision. Handled
    as version 2 is: every form of the application waiting for validation."""

    application_id = fields.Integer(required=True)
    code = fields.String(required=True)
    revision = fields.Integer(required=True)


class FormsValidationRequested(Payload):
    """intake → intake (version 2): validate every form of the application that waits
    for validation (status ``validating``). At most one is pending per application:
    forms saved one after another while it waits are validated together by it."""

    application_id = fields.Integer(required=True)


class PrintPdfRequested(Payload):
    """intake → intake: make the PDF of an application's print view (its ``revision``:
    the sha256 of the document the request saw)."""

    application_id = fields.Integer(required=True)
    revision = fields.String(required=True)


class ApplicationValidationRequested(Payload):
    application_id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    actor = fields.Nested(Actor, required=True)


class ApplicationSubmitted(Payload):
    """intake → review: a validated application, with everything review shows."""

    application_id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["connection", "change", "account"]))
    round = fields.Integer(required=True)
    org = fields.Nested(OrgRef, required=True)
    catalog_version = fields.String(allow_none=True, load_default=None)
    submitted_at = fields.String(required=True)
    submitted_by = fields.Nested(Actor, required=True)
    forms = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    findings = fields.List(fields.Dict(), load_default=list)
    # The attachments (intake's list: id, filename, title, size, sha256, uploaded_by,
    # uploaded_at, referenced_by); the files stay in intake. Empty from older senders.
    attachments = fields.List(fields.Dict(), load_default=list)


class DelegationsSubmitted(Payload):
    """intake → matching: the delegation records of one application round."""

    application_id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    org_id = fields.String(required=True)
    query_delegations = fields.List(fields.Dict(), load_default=list)
    provision_delegations = fields.List(fields.Dict(), load_default=list)
    provision_acceptances = fields.List(fields.Dict(), load_default=list)
    # a 変更申請: the registered application whose records these replace (its rows are
    # the organisation's whole delegation rows after the change)
    supersedes = fields.List(fields.Integer(), load_default=list)
    # for the 委任情報確認依頼 notices matching sends to the delegators
    number = fields.String(allow_none=True, load_default=None)
    org_name = fields.String(allow_none=True, load_default=None)
    # the names of the organisations the rows name (委任元, 委任先; code → name, from
    # intake's registry), for the pages: a code the registry does not know is left out
    org_names = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True,
                            load_default=None)


class MatchingResults(Payload):
    """matching → review: the state of an application's delegation records."""

    application_id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    # Grows with every report about the application: the receiver keeps the largest
    # (round, seq), whatever order the messages are processed in. 0 from older senders.
    seq = fields.Integer(load_default=0)
    records = fields.List(fields.Dict(), required=True)
    # the filing organisation (sent to the master, which keys its rows by organisation)
    org_id = fields.String(allow_none=True, load_default=None)


class ReviewDecision(Payload):
    """A reviewer's 承認 or 否認 of one stage, as intake writes it into the reviewers'
    block (審査者記入欄) of the workbooks. ``reviewer_org_name`` may be left out:
    intake names the organisation from its own registry."""

    stage = fields.String(required=True, validate=validate.OneOf(["forwarding", "primary", "secondary"]))
    result = fields.String(required=True, validate=validate.OneOf(["承認", "否認"]))
    comment = fields.String(load_default="")
    reviewer_org_id = fields.String(required=True)
    reviewer_org_name = fields.String(allow_none=True, load_default=None)
    reviewer_department = fields.String(load_default="")
    reviewer_name = fields.String(required=True)
    decided_at = fields.String(required=True)


class StatusChanged(Payload):
    """review or master → intake: the application moved on; intake keeps the history.
    A decision's report carries the ``decision`` (absent from older senders and from
    every other report)."""

    application_id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    status = fields.String(required=True)
    event = fields.String(required=True)
    stage = fields.String(allow_none=True, load_default=None)
    reviewer_org_id = fields.String(allow_none=True, load_default=None)
    actor = fields.Nested(Actor, allow_none=True, load_default=None)
    comment = fields.String(allow_none=True, load_default=None)
    at = fields.String(required=True)
    master_version = fields.Integer(allow_none=True, load_default=None)
    decision = fields.Nested(ReviewDecision, allow_none=True, load_default=None)


class ApplicationApproved(Payload):
    """review → master: what 総務省 approved, to become master data."""

    application_id = fields.Integer(required=True)
    number = fields.String(required=True)
    kind = fields.String(required=True)
    round = fields.Integer(required=True)
    org = fields.Nested(OrgRef, required=True)
    catalog_version = fields.String(allow_none=True, load_default=None)
    approved_at = fields.String(required=True)
    forms = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    # The delegation records' matching results 総務省 saw when deciding
    # ({kind, item, counterpart, status, ...} as matching reports them).
    matching = fields.List(fields.Dict(), load_default=list)


CONTRACTS: dict[tuple[str, int], type[Schema]] = {
    ("outbox.ack", 1): OutboxAck,
    ("form.validation_requested", 1): FormValidationRequested,
    ("form.validation_requested", 2): FormsValidationRequested,
    ("application.validation_requested", 1): ApplicationValidationRequested,
    ("print.pdf_requested", 1): PrintPdfRequested,
    ("application.submitted", 1): ApplicationSubmitted,
    ("delegations.submitted", 1): DelegationsSubmitted,
    ("matching.results", 1): MatchingResults,
    ("application.status_changed", 1): StatusChanged,
    ("application.approved", 1): ApplicationApproved,
}


_SCHEMAS: dict[tuple[str, int], Schema] = {}


def _schema(message_type: str, version: int) -> Schema:
    """The contract's schema, made once per process (a marshmallow schema holds no state
    between loads; making one per message was a measurable part of each delivery)."""
    key = (message_type, version)
    schema = _SCHEMAS.get(key)
    if schema is None:
        try:
            schema = _SCHEMAS[key] = CONTRACTS[key]()
        except KeyError:
            raise ValidationError(f"unknown message {message_type} v{version}") from None
    return schema


def dump_payload(message_type: str, version: int, payload: dict) -> dict:
    """Check an outgoing payload against its contract and return its JSON form."""
    schema = _schema(message_type, version)
    errors = schema.validate(payload)
    if errors:
        raise ValidationError(errors)
    return schema.dump(schema.load(payload))


def load_payload(message_type: str, version: int, payload: dict) -> dict:
    return _schema(message_type, version).load(payload)


# --- withdrawal, account issuance, review webhooks -----------------------------------

class ApplicationWithdrawn(Payload):
    """intake → review: the applicant asks to withdraw the application. Review decides
    (a decision that closed the case first wins) and answers with a status change:
    ``withdrawn``, or the event ``withdrawal_refused``."""

    application_id = fields.Integer(required=True)
    round = fields.Integer(required=True)
    actor = fields.Nested(Actor, allow_none=True, load_default=None)
    at = fields.String(required=True)
    reason = fields.String(allow_none=True, load_default=None)


class DelegationsWithdrawn(Payload):
    """intake → matching: the delegation records of a withdrawn application are void."""

    application_id = fields.Integer(required=True)
    org_id = fields.String(required=True)


class AccountApproved(Payload):
    """review → identity: an account request (アカウント発行申請) passed both stages."""

    request_id = fields.Integer(required=True)
    number = fields.String(required=True)
    org = fields.Nested(OrgRef, required=True)
    login = fields.String(required=True)
    role = fields.String(required=True)
    # every role to issue an account for, ``role`` first (a 市区町村's 首長部局 also gets
    # the 経由 account its 教育委員会's applications pass through); none: ``role`` only
    roles = fields.List(fields.String(), allow_none=True, load_default=None)
    name = fields.String(required=True)
    department = fields.String(load_default="")
    approved_at = fields.String(required=True)
    # the requester's address (the issued account's notification address)
    email = fields.String(allow_none=True, load_default=None)


class AccountIssued(Payload):
    """identity → intake: the account exists; its one-time activation token (shown on
    the requester's receipt) and when the token expires."""

    request_id = fields.Integer(required=True)
    login = fields.String(required=True)
    activation_token = fields.String(required=True)
    expires_at = fields.String(required=True)
    # every account issued on the request (the first is the one above):
    # [{"login", "role", "activation_token", "expires_at"}]
    accounts = fields.List(fields.Dict(), allow_none=True, load_default=None)


class WebhookDeliveryRequested(Payload):
    """review → review: send (or retry) one webhook delivery to a reviewer system."""

    delivery_id = fields.String(required=True)


CONTRACTS.update({
    ("application.withdrawn", 1): ApplicationWithdrawn,
    ("account.approved", 1): AccountApproved,
    ("account.issued", 1): AccountIssued,
    ("webhook.delivery_requested", 1): WebhookDeliveryRequested,
})
CONTRACTS.setdefault(("delegations.withdrawn", 1), DelegationsWithdrawn)


class MasterDeliveryRequested(Payload):
    """master → master: deliver (or retry) one published version to one subscriber."""

    delivery_id = fields.Integer(required=True)
    subscriber_id = fields.Integer(required=True)
    version = fields.Integer(required=True)


CONTRACTS[("master.delivery_requested", 1)] = MasterDeliveryRequested


class UploadReceived(Payload):
    """intake → intake: read and validate an uploaded workbook (stored by intake)."""

    application_id = fields.Integer(required=True)
    upload_id = fields.Integer(required=True)


CONTRACTS[("upload.received", 1)] = UploadReceived


class OrganisationsDirectory(Payload):
    """intake → review, identity: every organisation id of intake's registry (sent after
    the registry changes: ``nws refdata load``, a 一部事務組合 registered). Review refuses a
    route to an organisation not in the newest directory it received and names
    organisations on its pages by ``names`` (id → name); identity shows and searches
    accounts' organisations by ``names``."""

    org_ids = fields.List(fields.String(), required=True)
    generated_at = fields.String(required=True)
    names = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True,
                        load_default=None)


CONTRACTS[("organisations.directory", 1)] = OrganisationsDirectory


class SchedulePhaseRef(Payload):
    phase = fields.String(required=True)
    name = fields.String(required=True)
    starts_on = fields.String(allow_none=True, load_default=None)   # YYYY-MM-DD (Japan)
    ends_on = fields.String(allow_none=True, load_default=None)


class SchedulePublished(Payload):
    """review → intake: the operator's schedule of phases, whole, after every change.
    Intake keeps the newest copy (by ``published_at``): the applicants' dashboard shows
    it and intake refuses acting after the end of a phase it closes."""

    phases = fields.List(fields.Nested(SchedulePhaseRef), required=True)
    published_at = fields.String(required=True)


CONTRACTS[("schedule.published", 1)] = SchedulePublished

# --- notifications (docs/notifications.md) -------------------------------------------

NOTIFICATION_KINDS = ("returned", "approved", "registered", "confirmation_requested",
                      "account_issued", "deadline_near", "deadline_passed")


class NotificationRequested(Payload):
    """review, matching, master → identity: tell an organisation's accounts (applicants
    and forwarders) what happened. Identity writes the inbox notices and queues the
    mails. Never carries a 緊急連絡先 or other form content: only what the notice says."""

    kind = fields.String(required=True, validate=validate.OneOf(NOTIFICATION_KINDS))
    org_id = fields.String(required=True)          # the organisation told
    org_name = fields.String(allow_none=True, load_default=None)
    application_id = fields.Integer(allow_none=True, load_default=None)
    number = fields.String(allow_none=True, load_default=None)
    # the applying organisation when it is not the one told (a 委任情報確認依頼)
    subject_org_name = fields.String(allow_none=True, load_default=None)
    stage = fields.String(allow_none=True, load_default=None)
    comment = fields.String(allow_none=True, load_default=None)
    master_version = fields.Integer(allow_none=True, load_default=None)
    phase = fields.String(allow_none=True, load_default=None)
    deadline = fields.String(allow_none=True, load_default=None)     # YYYY-MM-DD
    days_left = fields.Integer(allow_none=True, load_default=None)
    link = fields.String(load_default="")            # a path of the suite's pages


class MailSendRequested(Payload):
    """identity → identity: send (or retry) one notification mail."""

    mail_id = fields.String(required=True)


CONTRACTS[("notification.requested", 1)] = NotificationRequested
CONTRACTS[("mail.send_requested", 1)] = MailSendRequested
# identity → review: a notice identity received, for the organisation's own webhooks
# (review holds the Standard Webhooks endpoints); the same payload.
CONTRACTS[("notification.published", 1)] = NotificationRequested
