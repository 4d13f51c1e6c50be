"""The kind of a legal instrument is told by its title's ending, not by a word inside it."""
from __future__ import annotations

import pytest

from shared import legal


@pytest.mark.parametrize("title, kind", [
    ("八王子市長の権限に属する個人番号の通知に関する事務の委任に関する規則", "規則"),
    ("八王子市事務委任要綱", "要綱"),
    ("児童手当事務取扱要領", "要領"),
    ("東京都の事務処理の特例に関する条例", "条例"),
    ("児童手当事務の委託に関する規約", "規約"),
    ("八王子市事務委任規則（昭和３９年規則第１０号）", "規則"),
    ("八王子市事務委任規則(昭和39年規則第10号)", "規則"),
    ("「八王子市事務委任規則」。", "規則"),
    ("八王子市事務委任規則第2条第1項", "規則"),
    ("地方自治法第252条の17の2の規定による事務処理の特例に関する条例", "条例"),
    ("八王子市児童手当法施行細則（昭和47年規則第30号）", "規則"),    # its number tells
    ("八王子市事務委任要綱（平成20年告示第5号）", "要綱"),            # the ending wins
    ("個人番号の利用に関する規則の運用について（通知）", ""),
    ("八王子市児童手当法施行細則", ""),
    ("地方自治法", ""),
    ("", ""),
    (None, ""),
])
def test_instrument_kind(title, kind):
    assert legal.instrument_kind(title) == kind


@pytest.mark.parametrize("article, refused", [
    ("地方自治法第252条の14", False), ("地方教育行政の組織及び運営に関する法律第25条", False),
    ("児童手当事務取扱要綱", True), ("児童手当事務取扱要綱第3条", True), ("総務省通知", True),
    ("個人番号の通知に関する法律第2条", False)])
def test_an_article_is_judged_by_the_instrument_it_cites(article, refused):
    assert legal.article_is_non_statutory(article) is refused
