"""The kind of a legal instrument, told from its title.

A delegation (様03-08) may rest only on a law or on a statutory instrument made under it:
an ordinance (条例), a rule (規則) or a 規約; an independent use (様03-09) only on an
ordinance. What an instrument is shows in how its title ends — 「…個人番号の通知に関する
事務の委任に関する規則」 is a 規則 although 通知 is a word inside it, 「…事務委任要綱」 is a
要綱 — so the title's ending is what is judged, never a word inside it.

The ending is read after taking off what may follow the name: spaces, a full stop, quotes,
a parenthesised number (「（昭和39年規則第10号）」) and an article reference (「第2条第1項」).
When the ending is no kind of instrument (「…施行細則」), the kind its number names
(「（昭和50年規則第3号）」) is taken.
"""
from __future__ import annotations

import re

ORDINANCE = "条例"
STATUTORY_KINDS = ("条例", "規則", "規約")
# Instruments that are not statutory (a delegation by them does not allow the use of the
# 情報提供ネットワークシステム); the longest endings first.
NON_STATUTORY_KINDS = ("ガイドライン", "事務連絡", "要綱", "要領", "通知", "通達", "訓令",
                       "規程", "告示", "協定", "指針", "基準", "依頼", "内規")

_NUM = r"[0-9０-９一二三四五六七八九十百千〇]+"
_TRAILERS = (
    re.compile(r"[\s　。．.、,]+$"),
    re.compile(r"[（(][^（）()]*[）)]$"),                               # （昭和39年規則第10号）
    re.compile(rf"第{_NUM}条(の{_NUM})*(第{_NUM}項)?(第{_NUM}号)?(ただし書)?$"),  # 第2条第1項
)
_QUOTES = "「」『』\"'“”"
_ARTICLE = re.compile(rf"第{_NUM}条")


def _strip(title: str | None) -> tuple[str, list[str]]:
    """(the title without what may follow the name, what was taken off)."""
    text = (title or "").strip().strip(_QUOTES)
    removed: list[str] = []
    while True:
        before = text
        for pattern in _TRAILERS:
            match = pattern.search(text)
            if match:
                removed.append(match.group(0))
                text = text[:match.start()]
        text = text.strip().strip(_QUOTES)
        if text == before:
            return text, removed


def bare_title(title: str | None) -> str:
    """The title without what may follow the name (see the module docstring)."""
    return _strip(title)[0]


_KINDS = STATUTORY_KINDS + NON_STATUTORY_KINDS
_NUMBERED = re.compile(rf"({'|'.join(_KINDS)})第{_NUM}号")


def instrument_kind(title: str | None) -> str:
    """The kind of instrument the title names, by its ending (or, when the ending is no
    kind, by its number): one of :data:`STATUTORY_KINDS` or :data:`NON_STATUTORY_KINDS`,
    or "" when it is none of them (e.g. a law: 「地方自治法」)."""
    text, removed = _strip(title)
    for kind in _KINDS:
        if text.endswith(kind):
            return kind
    for part in removed:
        match = _NUMBERED.search(part)
        if match:
            return match.group(1)
    return ""


def article_instrument(article: str | None) -> str:
    """The instrument an article reference cites: 「地方自治法第252条の14」 → 「地方自治法」
    (the whole text when it names no article)."""
    text = (article or "").strip()
    match = _ARTICLE.search(text)
    return text[:match.start()] if match else text


def is_statutory_title(title: str | None) -> bool:
    """Whether the title is that of an ordinance, rule or 規約."""
    return instrument_kind(title) in STATUTORY_KINDS


def article_is_non_statutory(article: str | None) -> bool:
    """Whether the instrument an article cites is a 要綱, 通知, 要領 or another instrument
    that is not statutory (「○○事務取扱要綱第3条」, 「総務省通知」)."""
    return instrument_kind(article_instrument(article)) in NON_STATUTORY_KINDS
