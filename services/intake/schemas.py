"""Request and response schemas of the intake API."""
from marshmallow import fields, validate

from shared.schemas import BaseSchema


class ApplicationPostSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(
        ["connection", "change"], error="kind は connection または change です。"),
        metadata={"description": "connection（接続申請）または change（変更申請）"})


class FindingSchema(BaseSchema):
    rule = fields.String()
    severity = fields.String()
    location = fields.String()
    message = fields.String()


class FormStatusSchema(BaseSchema):
    status = fields.String()
    revision = fields.Integer()
    findings = fields.List(fields.Nested(FindingSchema))


class HistorySchema(BaseSchema):
    at = fields.String()
    round = fields.Integer()
    event = fields.String()
    status = fields.String()
    stage = fields.String(allow_none=True)
    org_id = fields.String(allow_none=True)
    actor = fields.Dict(allow_none=True)
    comment = fields.String(allow_none=True)


class ApplicationResponseSchema(BaseSchema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String()
    org = fields.String()
    status = fields.String()
    round = fields.Integer()
    stage = fields.String(allow_none=True)
    catalog_version = fields.String(allow_none=True)
    master_version = fields.Integer(allow_none=True)
    forms = fields.Dict(keys=fields.String(), values=fields.Nested(FormStatusSchema))
    findings = fields.List(fields.Nested(FindingSchema))
    history = fields.List(fields.Nested(HistorySchema))
