"""upload_safety.read_zip: a .zip of workbooks is read entry by entry in memory; a bad
entry is reported by its name while the others are read; the archive as a whole is
refused when it could be a bomb (decided from its directory)."""
from __future__ import annotations

import io
import zipfile

import pytest

from shared import upload_safety
from shared.upload_safety import UploadRejected, read_zip

XLSX = b"PK\x03\x04 an xlsx as far as the zip reader cares"


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]],
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def by_name(entries) -> dict[str, str | bytes]:
    return {e.name: (e.error.code if e.error else e.content) for e in entries}


def test_each_bad_entry_is_reported_by_its_name_and_the_others_are_read():
    inner = make_zip([("2026-000001_様02-01.xlsx", XLSX)])
    content = make_zip([
        ("2026-000001_様02-01.xlsx", XLSX),
        ("説明.txt", b"not a workbook"),
        ("マクロ.xlsm", XLSX),
        ("../../etc/cron.d/evil.xlsx", XLSX),
        ("/absolute.xlsx", XLSX),
        ("C:/Windows/evil.xlsx", XLSX),
        ("入れ子.zip", inner),
        ("爆弾.xlsx", b"\0" * (2 * 1024 * 1024)),
        ("様式/2026-000001_様02-02.xlsx", XLSX + b"2"),
    ])
    got = by_name(read_zip(content, "様式一式.zip"))
    assert got == {
        "2026-000001_様02-01.xlsx": XLSX,
        "説明.txt": "not_xlsx",
        "マクロ.xlsm": "macro_or_legacy_format",
        "../../etc/cron.d/evil.xlsx": "zip_unsafe_name",
        "/absolute.xlsx": "zip_unsafe_name",
        "C:/Windows/evil.xlsx": "zip_unsafe_name",
        "入れ子.zip": "zip_nested",
        "爆弾.xlsx": "zip_ratio",
        "様式/2026-000001_様02-02.xlsx": XLSX + b"2",
    }
    messages = {e.name: e.error.message for e in read_zip(content) if e.error}
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in m) for m in messages.values())


def test_folders_and_what_macos_adds_are_skipped_silently():
    content = make_zip([("様式/", b""), ("__MACOSX/._a.xlsx", b"x"), ("様式/.DS_Store", b"x"),
                        ("様式/a.xlsx", XLSX)])
    assert by_name(read_zip(content)) == {"様式/a.xlsx": XLSX}


def test_a_windows_zip_s_shift_jis_names_are_read_as_japanese():
    sjis = "様02-01.xlsx".encode("cp932")                 # no UTF-8 flag, as Windows writes
    placeholder = b"X" * (len(sjis) - len(b"02-01.xlsx")) + b"02-01.xlsx"
    content = make_zip([(placeholder.decode("ascii"), XLSX)]).replace(placeholder, sjis)
    assert by_name(read_zip(content)) == {"様02-01.xlsx": XLSX}


def test_an_entry_larger_than_a_workbook_may_be_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(upload_safety, "MAX_UPLOAD_BYTES", 100)
    content = make_zip([("大きい.xlsx", bytes(range(256)) * 2), ("小さい.xlsx", XLSX)],
                       zipfile.ZIP_STORED)
    assert by_name(read_zip(content)) == {"大きい.xlsx": "too_large", "小さい.xlsx": XLSX}


def test_an_encrypted_entry_is_reported_by_name():
    content = bytearray(make_zip([("暗号.xlsx", XLSX)], zipfile.ZIP_STORED))
    # set the encryption bit in the local header and in the central directory
    content[6] |= 1
    central = content.rfind(b"PK\x01\x02")
    content[central + 8] |= 1
    assert by_name(read_zip(bytes(content))) == {"暗号.xlsx": "encrypted"}


def test_a_corrupt_entry_is_reported_by_name_and_the_others_are_read():
    content = bytearray(make_zip([("壊れた.xlsx", XLSX * 50), ("正常.xlsx", XLSX)]))
    start = 30 + len("壊れた.xlsx".encode()) + 2               # inside the first entry's data
    content[start:start + 20] = b"\xff" * 20
    got = by_name(read_zip(bytes(content)))
    assert got["壊れた.xlsx"] == "zip_entry_broken" and got["正常.xlsx"] == XLSX


def test_too_many_entries_refuse_the_whole_archive():
    content = make_zip([(f"{i}.xlsx", XLSX) for i in range(upload_safety.MAX_ZIP_ENTRIES + 1)])
    with pytest.raises(UploadRejected) as exc:
        read_zip(content, "多すぎる.zip")
    assert exc.value.code == "zip_too_many_entries" and "「多すぎる.zip」" in exc.value.message


def test_too_much_uncompressed_data_refuses_the_whole_archive_before_reading(monkeypatch):
    monkeypatch.setattr(upload_safety, "MAX_ZIP_TOTAL_BYTES", 1024 * 1024)
    content = make_zip([("a.xlsx", b"\0" * 600_000), ("b.xlsx", b"\0" * 600_000)])
    assert len(content) < 10_000
    with pytest.raises(UploadRejected) as exc:
        read_zip(content, "爆弾.zip")
    assert exc.value.code == "zip_too_large" and "MB" in exc.value.message


@pytest.mark.parametrize("content,code", [
    (b"plain text", "not_zip"),
    (b"PK\x03\x04 truncated", "not_zip"),
    (b"", "empty_file"),
])
def test_what_is_not_a_zip_is_refused(content, code):
    with pytest.raises(UploadRejected) as exc:
        read_zip(content, "x.zip")
    assert exc.value.code == code


def test_a_zip_larger_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(upload_safety, "MAX_ZIP_BYTES", 100)
    with pytest.raises(UploadRejected) as exc:
        read_zip(make_zip([("a.xlsx", bytes(range(256)))], zipfile.ZIP_STORED))
    assert exc.value.status == 413
