"""二次審査: 総務省 (情報提供NWS運営主体)."""
from shared.forms import Route
from shared.hookspecs import hookimpl


@hookimpl(trylast=True)
def nws_review_route(application, stage):
    if stage != "secondary":
        return None
    return Route("MIC", "二次審査は総務省が行います。")
