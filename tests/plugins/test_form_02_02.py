"""様02-02: 連絡窓口責任者, 通常連絡先 and 緊急連絡先."""
from __future__ import annotations

import pytest

from tests import factories, form_data
from tests.plugins.conftest import all_forms, rules

NORMAL = {"priority": 1, "department": "情報政策課", "name": "", "phone": "03-1234-5678",
          "email": "joho@example.lg.jp"}
EMERGENCY = {"priority": 1, "name": "山田 一郎", "phone": "090-1234-5678",
             "email": "yamada@example.jp"}


def with_priorities(rows, *priorities):
    return [dict(rows, priority=p) for p in priorities]


@pytest.mark.parametrize("key", ["normal_contacts", "emergency_contacts"])
def test_each_contact_list_needs_a_row(check, key):
    found = check("02-02", factories.form_02_02(**{key: []}))
    assert rules(found) == [(f"02-02.{key}.missing", "error", key)]


@pytest.mark.parametrize("key, row", [("normal_contacts", NORMAL), ("emergency_contacts", EMERGENCY)])
def test_duplicate_priorities(check, key, row):
    found = check("02-02", factories.form_02_02(**{key: with_priorities(row, 1, 1)}))
    assert rules(found) == [(f"02-02.{key}.priority_duplicate", "error", key)]


@pytest.mark.parametrize("key, row", [("normal_contacts", NORMAL), ("emergency_contacts", EMERGENCY)])
def test_gapped_priorities(check, key, row):
    found = check("02-02", factories.form_02_02(**{key: with_priorities(row, 1, 3)}))
    assert rules(found) == [(f"02-02.{key}.priority_gap", "error", key)]
    assert check("02-02", factories.form_02_02(**{key: with_priorities(row, 2, 1)})) == []


@pytest.mark.parametrize("phone, why", [
    ("03-1234-567", "桁数"), ("042-626-11111", "桁数"), ("0426261111 1", "桁数"),
    ("090-1234-567", "桁数"), ("0120-123-4567", "桁数"),
    ("3-1234-5678", "0 から"), ("42(626)1111", "0 から"), ("426261111", "0 から"),
    ("0000000000", "存在しない"), ("00-0000-0000", "存在しない"), ("000(000)0000", "存在しない"),
    ("内線1234", "形式"), ("042(626-1111", "形式"), ("+81-42-626-1111", "形式"),
    ("03-1234-5678 内線12", "形式"), ("042--626-1111", "形式"), ("0426-26111-1", "形式"),
    ("", "形式")])
def test_impossible_phone_numbers(check, phone, why):
    found = check("02-02", factories.form_02_02(normal_contacts=[dict(NORMAL, phone=phone)]))
    assert rules(found) == [("02-02.normal_contacts.phone", "error", "normal_contacts[0].phone")]
    assert f"「{phone.strip()}」" in found[0].message and why in found[0].message


@pytest.mark.parametrize("phone", [
    "042-626-1111", "042(626)1111", "(042)626-1111", "(042)6261111", "0426261111",
    "042 626 1111", "042 - 626 - 1111", "042 (626) 1111", " 042-626-1111 ",
    "０４２－６２６－１１１１", "０４２（６２６）１１１１", "０４２　６２６　１１１１", "042ー626ー1111",
    "03(1234)5678", "03-1234-5678", "0120-123-456", "0570-012-345", "050-1234-5678",
    "0800-123-4567"])
def test_phone_numbers_as_people_write_them(check, phone):
    data = factories.form_02_02(normal_contacts=[dict(NORMAL, phone=phone)])
    assert check("02-02", data) == []


@pytest.mark.parametrize("phone", ["090-1234-5678", "０９０（１２３４）５６７８", "080 1234 5678",
                                   "07012345678"])
def test_a_mobile_number_written_in_any_form_is_an_emergency_contact(check, phone):
    data = factories.form_02_02(emergency_contacts=[dict(EMERGENCY, phone=phone)])
    assert check("02-02", data) == []


def test_an_impossible_emergency_number_is_an_error_not_a_warning(check):
    found = check("02-02", factories.form_02_02(emergency_contacts=[dict(EMERGENCY, phone="00000000000")]))
    assert rules(found) == [("02-02.emergency_contacts.phone", "error", "emergency_contacts[0].phone")]


@pytest.mark.parametrize("email", ["joho@", "joho.example.jp", "joho@example", "ジョホ@example.jp"])
def test_malformed_email_addresses(check, email):
    found = check("02-02", factories.form_02_02(emergency_contacts=[dict(EMERGENCY, email=email)]))
    assert rules(found) == [("02-02.emergency_contacts.email", "error", "emergency_contacts[0].email")]


def test_full_width_phone_numbers_are_accepted(check):
    data = factories.form_02_02(normal_contacts=[dict(NORMAL, phone="０３－１２３４－５６７８")])
    assert check("02-02", data) == []


def test_an_emergency_number_that_is_not_a_mobile_is_a_warning(check):
    found = check("02-02", factories.form_02_02(emergency_contacts=[dict(EMERGENCY, phone="03-1234-5678")]))
    assert rules(found) == [("02-02.emergency_contacts.not_mobile", "warning",
                             "emergency_contacts[0].phone")]


def test_department_and_emergency_name_are_required(check):
    found = check("02-02", factories.form_02_02(normal_contacts=[dict(NORMAL, department="")],
                                                emergency_contacts=[dict(EMERGENCY, name="")]))
    assert rules(found) == [("02-02.normal_contacts.department", "error", "normal_contacts[0].department"),
                            ("02-02.emergency_contacts.name", "error", "emergency_contacts[0].name")]


def test_contact_chief_is_required(check):
    found = check("02-02", factories.form_02_02(contact_chief={"title": "", "name": "山田 一郎"}))
    assert rules(found) == [("02-02.required.contact_chief.title", "error", "contact_chief.title")]


def test_contact_chief_other_than_the_system_chief_is_a_warning(check_app):
    forms = all_forms(**{"02-02": factories.form_02_02(contact_chief={"title": "情報政策課長", "name": "佐藤 二郎"})})
    assert rules(check_app(forms)) == [("02-02.contact_chief_not_system_chief", "warning",
                                        "02-02.contact_chief")]


def test_the_same_person_spelt_with_a_full_width_space_is_no_warning(check_app):
    forms = all_forms(**{"02-02": factories.form_02_02(contact_chief={"title": "情報政策担当部長", "name": "山田　一郎"})})
    assert check_app(forms) == []


def test_the_same_person_in_half_width_kana_is_no_warning(check_app):
    """Names are stored as written; compared, widths and spaces do not count."""
    chief = {"title": "情報政策担当部長", "name": "ﾔﾏﾀﾞ ｲﾁﾛｳ"}
    forms = all_forms(**{"02-01": factories.form_02_01(system_chief={"title": "情報政策担当部長", "name": "ヤマダ　イチロウ"}),
                         "02-02": factories.form_02_02(contact_chief=chief),
                         "02-06": form_data.form_02_06(reporter=chief)})
    assert check_app(forms) == []
