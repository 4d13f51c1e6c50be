"""How typed text is cleaned before it is stored or checked, by kind of text.

Only what people type as codes is normalised; names, and above all the names the law
gives, are kept as written:

- :data:`CODE` — codes, numbers, phone numbers, e-mail addresses, dates and pull-down
  values: NFKC (全角 digits, letters, hyphens and spaces become half-width; the dashes
  people type in a phone number become ``-``), trimmed.
- :data:`FREE` — other free text (names, departments, addresses, reasons): trimmed only,
  so ``（``, ``①`` or a full-width space stay what they are.
- :data:`LEGAL` — text whose wording is fixed elsewhere: 事務名 and 特定個人情報名 (the
  legal catalog), the title of an ordinance, rule or 規約, of a 評価書: exactly as given,
  byte for byte (not even trimmed), so it can be compared with the catalog and passed on
  unchanged.

A marshmallow field names its kind in ``metadata["text"]`` (see :mod:`shared.schemas`); a
workbook column or field in its ``text`` attribute (see :mod:`shared.workbook`).
"""
from __future__ import annotations

import re
import unicodedata

CODE = "code"
FREE = "free"
LEGAL = "legal"
KINDS = (CODE, FREE, LEGAL)

# Dashes people type between the digits of a phone number (NFKC keeps these).
DASHES = "ー－―‐‑−–—⁃"
_NUMBERISH = re.compile(rf"[\d\s()\-{DASHES}]+")
_DASH = re.compile(f"[{DASHES}]")


def normalise_code(text: str) -> str:
    """NFKC, the dashes of a number (digits, spaces, brackets and dashes only) made
    ``-``, trimmed."""
    text = unicodedata.normalize("NFKC", text)
    if _NUMBERISH.fullmatch(text):
        text = _DASH.sub("-", text)
    return text.strip()


def clean(text: str, kind: str = CODE) -> str:
    """``text`` as its kind is stored (see the module's docstring)."""
    if kind == LEGAL:
        return text
    if kind == FREE:
        return text.strip()
    return normalise_code(text)
