"""Review names organisations by intake's registry: the directory intake announces
(``organisations.directory``) carries each id's name, review keeps it beside the id,
and the case page shows a route's and the history's organisations as 「name（code）」
(one query per page), falling back to the code where no name is known."""
from __future__ import annotations

import re

import pytest

from shared.db import utcnow
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, text_of
from tests.review import support
from tests.review.support import CHIYODA_BOE


class Rollback(Exception):
    pass


def known_name(suite: Suite, org_id: str) -> str | None:
    from services.review import directory

    with suite.ctx("review").transaction() as session:
        return directory.names(session, [org_id]).get(org_id)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-org-names") / "var")
    # intake's seed announced its registry, with names, to review
    wait_for(lambda: known_name(s, "131016"), what="the organisation directory in review")
    yield s
    s.close()


def test_intakes_directory_reaches_review_with_its_names(suite):
    assert "千代田区" in known_name(suite, "131016")


def test_a_directory_with_names_is_stored_with_them(suite):
    from sqlalchemy import select

    from services.review import directory
    from services.review.models import KnownOrganisation

    # stored in a transaction rolled back: the suite keeps intake's directory
    with pytest.raises(Rollback):
        with suite.ctx("review").transaction() as session:
            directory.store(session, {
                "org_ids": ["131016", "131016-BOE", "X-NAMELESS"],
                "generated_at": utcnow().isoformat(),
                "names": {"131016": "東京都千代田区", "131016-BOE": "千代田区教育委員会"}})
            rows = dict(session.execute(select(KnownOrganisation.org_id,
                                               KnownOrganisation.name)).all())
            assert rows == {"131016": "東京都千代田区", "131016-BOE": "千代田区教育委員会",
                            "X-NAMELESS": None}
            assert directory.names(session, ["131016", "X-NAMELESS", "NOWHERE", None]) == {
                "131016": "東京都千代田区"}
            assert directory.names(session, []) == {}
            raise Rollback
    assert known_name(suite, "X-NAMELESS") is None


def test_a_directory_without_names_keeps_the_ids(suite):
    from services.review import directory

    with pytest.raises(Rollback):
        with suite.ctx("review").transaction() as session:
            directory.store(session, {"org_ids": ["131016"],
                                      "generated_at": utcnow().isoformat()})
            assert directory.known(session)("131016")
            assert directory.names(session, ["131016"]) == {}
            raise Rollback


def test_the_case_page_names_the_forwarder_of_a_board_of_education(suite):
    app_id = support.submit(suite, CHIYODA_BOE)
    forwarder = client_for(suite, "demo-forwarder")
    page = text_of(forwarder.get(f"/review/applications/{app_id}"))
    route = re.search(r"審査の経路</th><td>(.*?)</td>", page).group(1)
    assert "千代田区（131016）" in route

    assert support.decide(suite, "demo-forwarder", app_id).status_code == 201
    page = text_of(client_for(suite, "demo-pref").get(f"/review/applications/{app_id}"))
    route = re.search(r"審査の経路</th><td>(.*?)</td>", page).group(1)
    assert "千代田区（131016）" in route and "東京都（130001）" in route
    # the history: the forwarder's decision, by name with its code
    history = page[page.index('<table class="history'):]
    cells = re.findall(r'<td data-label="機関">(.*?)</td>', history)
    assert any("千代田区（131016）" in c for c in cells), cells
    assert "<td data-label=\"機関\">131016</td>" not in history
