"""一次審査: J-LIS for a 都道府県知事部局, the 取りまとめ都道府県 for everyone else."""
from shared.forms import Route
from shared.hookspecs import hookimpl


@hookimpl(trylast=True)
def nws_review_route(application, stage):
    if stage != "primary":
        return None
    org = application["org"]
    if org["kind"] == "都道府県" and org["branch"] == "executive":
        return Route("JLIS", "都道府県知事部局の一次審査は J-LIS が行います。")
    return Route(org["prefecture_code"], "一次審査は取りまとめ都道府県が行います。")
