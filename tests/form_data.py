"""Form payloads for the tests: the builders live in :mod:`nws.testing` (shared with
plugin authors), re-exported here under the names the tests use."""
from __future__ import annotations

from nws.testing import (  # noqa: F401  (re-exported)
    BUILDERS, CHECK_ITEMS, EVIDENCE, SELECTED_ROWS, WRITER, beppyo_affair, form_02_01, form_02_02,
    form_02_06, form_03_06, form_03_07, form_03_07_selected, form_03_08, form_03_08_full,
    form_03_09, pia_done, query_delegation, required_forms, selection_for)


def put_selection_for(client, headers, app_id: int, form_0308: dict) -> None:
    res = client.put(f"/api/intake/applications/{app_id}/selection",
                     json=selection_for(form_0308), headers=headers)
    assert res.status_code == 200, res.get_json()
