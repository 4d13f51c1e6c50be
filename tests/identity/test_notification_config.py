"""Notification settings from the environment: checked at start, named when wrong."""
from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings


def settings(tmp_path, **env):
    return Settings.from_env({"NWS_DATA_DIR": str(tmp_path), **env}, embedded=True)


def test_defaults_write_eml_files_and_notice_seven_and_one_day_before(tmp_path):
    s = settings(tmp_path)
    assert s.smtp_url == "" and s.deadline_notice_days == (7, 1)
    assert s.public_url == "http://127.0.0.1:8000"


def test_deadline_days_are_read_largest_first(tmp_path):
    assert settings(tmp_path, NWS_DEADLINE_NOTICE_DAYS="1, 14,3").deadline_notice_days == (14, 3, 1)


@pytest.mark.parametrize("env, name", [
    ({"NWS_SMTP_URL": "http://mail.example.jp"}, "NWS_SMTP_URL"),
    ({"NWS_DEADLINE_NOTICE_DAYS": "7,a"}, "NWS_DEADLINE_NOTICE_DAYS"),
])
def test_a_wrong_setting_is_refused_with_its_name(tmp_path, env, name):
    with pytest.raises(ConfigError, match=name):
        settings(tmp_path, **env)
