"""経由: a 市町村教育委員会's application first goes to its own 首長部局."""
from shared.forms import Route
from shared.hookspecs import hookimpl


@hookimpl(trylast=True)
def nws_review_route(application, stage):
    if stage != "forwarding":
        return None
    org = application["org"]
    if org["branch"] == "board_of_education" and org["kind"] != "都道府県":
        return Route(org["parent_id"], "市町村教育委員会の申請は首長部局を経由します。")
    return Route(None, "経由なし")
