"""Mutated workbooks and mutated JSON thrown at intake: the answer is findings or a clean
4xx, never a 500, and the worker survives (every upload ends read, every form validated).
Bounded: ~50 examples per property, no deadline (the machine is shared)."""
from __future__ import annotations

import datetime as dt
import io
import random
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shared.pluginmanager import form_specs
from tests import factories, form_data
from tests.conftest import Suite, wait_for
from tests.intake.test_uploads import post_upload, upload_and_wait, xlsx

CLEAN = {202, 400, 404, 409, 413, 415, 422}
FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    # Many files go to one application here; the per-minute upload limit is tested in
    # test_uploads.py.
    suite = Suite(tmp_path_factory.mktemp("fuzz") / "var",
                  env={"NWS_UPLOAD_RATE_LIMIT": "100000/minute"})
    yield suite
    suite.close()


@pytest.fixture(scope="module")
def layouts(s):
    return {code: spec.layout for code, spec in form_specs(s.runtime.plugins).items()}


@pytest.fixture(scope="module")
def seed_book(layouts) -> bytes:
    return xlsx(layouts, {"02-01": factories.form_02_01(), "02-02": factories.form_02_02(),
                          "03-07": form_data.form_03_07_selected()})


def settled(s, app_id) -> dict:
    """Wait until every upload is read and every form validated; the worker is alive."""
    return wait_for(lambda: (lambda a: a if all(u["status"] != "received" for u in a["uploads"])
                             and all(f["status"] != "validating" for f in a["forms"].values())
                             else None)(s.get_app(app_id)), timeout=60, what="intake settled")


def assert_alive_and_sane(s, layouts, app_id) -> dict:
    app = settled(s, app_id)
    outcome = {status: sum(u["status"] == status for u in app["uploads"])
               for status in ("done", "failed")}
    for up in app["uploads"]:
        assert up["status"] in ("done", "failed")
        assert all(f["rule"] != "form.validation_crashed" for f in up["findings"])
    for code, form in app["forms"].items():
        assert all(f["rule"] != "form.validation_crashed" for f in form["findings"]), form
        res = s.client.get(f"/api/intake/applications/{app_id}/forms/{code}.xlsx",
                           headers=s.headers("demo-applicant"))
        assert res.status_code == 200  # every stored form can be written back annotated
    # and the worker still reads a good file
    app = upload_and_wait(s, app_id, xlsx(layouts, {"02-01": factories.form_02_01()}))
    assert app["uploads"][-1]["status"] == "done"
    return outcome


def rezip(content: bytes, order: list[int]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        infos = src.infolist()
        for i in order:
            dst.writestr(infos[i % len(infos)].filename, src.read(infos[i % len(infos)]))
    return out.getvalue()


byte_flips = st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=8)
cell_values = st.one_of(
    st.none(), st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40),
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from(["=1+1", "=A1", "○", "×", "令和6年11月26日", "０３－１２３４－５６７８",
                     "　山田　一郎　", "登録申請", "九", "EX0001", "#REF!"]))


@FUZZ
@given(data=st.data())
def test_mutated_workbooks_get_findings_or_a_clean_4xx(s, layouts, seed_book, data):
    app_id = getattr(test_mutated_workbooks_get_findings_or_a_clean_4xx, "app_id", None)
    if app_id is None:
        app_id = factories.create_application(s.client, s.headers("demo-applicant"))
        test_mutated_workbooks_get_findings_or_a_clean_4xx.app_id = app_id
    kind = data.draw(st.sampled_from(["flip", "truncate", "shuffle", "cells"]))
    content = bytearray(seed_book)
    if kind == "flip":
        for pos, xor in data.draw(byte_flips):
            content[pos % len(content)] ^= xor
    elif kind == "truncate":
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    elif kind == "shuffle":
        with zipfile.ZipFile(io.BytesIO(seed_book)) as zf:
            n = len(zf.infolist())
        order = data.draw(st.permutations(range(n)))
        drop = data.draw(st.integers(0, 2))
        content = rezip(bytes(seed_book), list(order)[drop:])
    else:
        wb = openpyxl.load_workbook(io.BytesIO(seed_book))
        for _ in range(data.draw(st.integers(1, 12))):
            ws = wb[data.draw(st.sampled_from(wb.sheetnames))]
            cell = ws.cell(row=data.draw(st.integers(1, 40)), column=data.draw(st.integers(1, 10)))
            cell.value = data.draw(cell_values)
        buf = io.BytesIO()
        wb.save(buf)
        content = buf.getvalue()
    res = post_upload(s, app_id, bytes(content))
    assert res.status_code in CLEAN, res.get_json()
    if res.status_code != 202:
        assert res.get_json()["error"]["message"]


def test_the_worker_survived_the_mutated_workbooks(s, layouts):
    app_id = getattr(test_mutated_workbooks_get_findings_or_a_clean_4xx, "app_id", None)
    if app_id is None:
        pytest.skip("runs after test_mutated_workbooks_get_findings_or_a_clean_4xx")
    outcome = assert_alive_and_sane(s, layouts, app_id)
    assert outcome["done"] >= 5  # the mutations did reach the reader and the validators


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=10), children, max_size=4),
    max_leaves=12)


def mutate(value, rnd: random.Random, replacement):
    """Replace one node of a JSON document (chosen by ``rnd``) with ``replacement``, or
    drop a key."""
    if isinstance(value, dict) and value and rnd.random() < 0.8:
        key = rnd.choice(sorted(value))
        out = dict(value)
        if rnd.random() < 0.15:
            del out[key]
        else:
            out[key] = mutate(value[key], rnd, replacement)
        return out
    if isinstance(value, list) and value and rnd.random() < 0.8:
        i = rnd.randrange(len(value))
        return value[:i] + [mutate(value[i], rnd, replacement)] + value[i + 1:]
    return replacement


@FUZZ
@given(code=st.sampled_from(sorted(form_data.BUILDERS)), seed=st.integers(0, 2**32),
       replacement=json_values, whole=st.booleans())
def test_mutated_json_gets_findings_or_a_clean_4xx(s, code, seed, replacement, whole):
    app_id = getattr(test_mutated_json_gets_findings_or_a_clean_4xx, "app_id", None)
    if app_id is None:
        app_id = factories.create_application(s.client, s.headers("demo-applicant"))
        test_mutated_json_gets_findings_or_a_clean_4xx.app_id = app_id
    base = form_data.BUILDERS[code]()
    body = replacement if whole and seed % 7 == 0 else mutate(base, random.Random(seed), replacement)
    res = s.client.put(f"/api/intake/applications/{app_id}/forms/{code}", json=body,
                       headers=s.headers("demo-applicant"))
    assert res.status_code in CLEAN, res.get_json()
    assert res.status_code == 202 or res.get_json()["error"]["message"]


def test_the_worker_survived_the_mutated_json(s, layouts):
    app_id = getattr(test_mutated_json_gets_findings_or_a_clean_4xx, "app_id", None)
    if app_id is None:
        pytest.skip("runs after test_mutated_json_gets_findings_or_a_clean_4xx")
    assert_alive_and_sane(s, layouts, app_id)
