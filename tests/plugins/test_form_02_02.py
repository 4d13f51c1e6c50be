"""様02-02: 連絡窓口責任者, 通常連絡先 and 緊急連絡先."""
from __future__ import annotations

import pytest

from tests import factories
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


@pytest.mark.parametrize("phone", ["03-1234-567", "3-1234-5678", "03(1234)5678", "内線1234"])
def test_malformed_phone_numbers(check, phone):
    found = check("02-02", factories.form_02_02(normal_contacts=[dict(NORMAL, phone=phone)]))
    assert rules(found) == [("02-02.normal_contacts.phone", "error", "normal_contacts[0].phone")]
    assert phone in found[0].message


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
