"""Checks in front of the workbook reader: what an uploaded file must be before anything
parses it.

Everything here looks at the zip directory and at the first bytes of a few members; no
XML is parsed except ``xl/workbook.xml`` and its relationships (with defusedxml, after the
size checks). Each check raises :class:`UploadRejected` with an HTTP status and a
Japanese message, so the request is answered at once and nothing is stored:

- size over :data:`MAX_UPLOAD_BYTES` (413);
- a file name of a macro-enabled or legacy format (.xlsm, .xls, .xlsb …; 415);
- not a zip, or a zip that is not an .xlsx (422);
- a zip bomb: too many members, too much uncompressed data in one member or in all, or a
  compression ratio no spreadsheet has (422) — decided from the directory before any
  member is decompressed (Python's zipfile stops at the declared size, so the directory
  cannot understate it);
- encrypted members, macros (vbaProject.bin, macro sheets, ActiveX) or a macro-enabled
  content type (422);
- a DTD in any XML member (entity expansion, "billion laughs"; 422). openpyxl parses with
  defusedxml when it is installed (it is a dependency), which refuses entities as well:
  this check is the first of two;
- a sheet whose declared dimension is larger than any form (422);
- no sheet of a known form (422).

:func:`read_zip` opens a .zip of workbooks (the forms.zip the site produces, or one the
applicant made): the archive as a whole is refused for too many entries, too much
uncompressed data or a bomb's compression ratio, all decided from its directory; each
entry is then read into memory (never extracted to disk, never by its name) or reported
by its name: a name that climbs out of the archive or is absolute, a nested zip, an
encrypted entry, a bomb's ratio — the other entries are still read.

What only reading can find (formulas, values, layout) becomes findings in the intake
task, not errors here.
"""
from __future__ import annotations

import dataclasses
import io
import posixpath
import re
import zipfile
import zlib
from typing import Iterable

MAX_UPLOAD_BYTES = 5 * 1024 * 1024          # one workbook (a filled form is ~30 KB)
MAX_ENTRIES = 300                           # zip members
MAX_MEMBER_BYTES = 20 * 1024 * 1024         # uncompressed, one member
MAX_TOTAL_BYTES = 60 * 1024 * 1024          # uncompressed, all members
MAX_RATIO = 150                             # uncompressed / compressed, members over 1 MiB
RATIO_FLOOR_BYTES = 1024 * 1024
MAX_SHEET_ROWS = 5000                       # as shared.workbook.MAX_ROWS
MAX_SHEET_COLS = 256
PROLOG_BYTES = 64 * 1024                    # looked at for a DTD / the dimension
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MIB = 1024 * 1024
MAX_ZIP_BYTES = 20 * 1024 * 1024            # one .zip of workbooks, as posted
MAX_BATCH_BYTES = 40 * 1024 * 1024          # every file of one posting together
MAX_ZIP_ENTRIES = 50                        # the site's forms.zip holds 7
MAX_ZIP_TOTAL_BYTES = 60 * 1024 * 1024      # uncompressed, every entry
MAX_ZIP_RATIO = 100                         # an .xlsx is compressed already: ~1
ZIP_RATIO_FLOOR_BYTES = 64 * 1024

MACRO_EXTENSIONS = (".xlsm", ".xltm", ".xlam", ".xlsb", ".xls", ".xlt")
MACRO_MEMBERS = re.compile(r"(^|/)(vbaProject\.bin|vbaProjectSignature\.bin|vbaData\.xml)$|"
                           r"^xl/(macrosheets|dialogsheets|activeX)/", re.IGNORECASE)
DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


class UploadRejected(Exception):
    """A file refused at the door: ``status``, a stable ``code``, a Japanese message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclasses.dataclass(frozen=True)
class WorkbookInfo:
    """What the door learnt: the sheet names in workbook order."""

    sheets: list[str]


def _reject(status: int, code: str, message: str) -> UploadRejected:
    return UploadRejected(status, code, message)


def check_name(filename: str) -> None:
    name = (filename or "").strip()
    lower = name.lower()
    if lower.endswith(MACRO_EXTENSIONS):
        raise _reject(415, "macro_or_legacy_format",
                      f"「{name}」は受け付けられない形式です（マクロ有効ブックや旧形式の Excel は使えません）。"
                      ".xlsx 形式で保存し直してアップロードしてください。")
    if not lower.endswith(".xlsx"):
        raise _reject(415, "not_xlsx",
                      f"「{name or '（ファイル名なし）'}」は .xlsx ファイルではありません。様式の Excel ファイル（.xlsx）をアップロードしてください。")


def check_size(size: int, limit: int = MAX_UPLOAD_BYTES) -> None:
    if size > limit:
        raise _reject(413, "too_large",
                      f"ファイルが大きすぎます（{size:,} バイト、上限 {limit:,} バイト）。")
    if size == 0:
        raise _reject(422, "empty_file", "ファイルが空です。")


def column_number(letters: str) -> int:
    """"A" -> 1, "XFD" -> 16384."""
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def check_directory(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _reject(422, "zip_too_many_entries",
                      f"ファイルの中身の数が多すぎます（{len(infos)} 個、上限 {MAX_ENTRIES} 個）。様式の Excel ファイルではありません。")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise _reject(422, "encrypted",
                          "パスワードで保護（暗号化）されたファイルは読み取れません。保護を解除して保存し直してください。")
        if info.file_size > MAX_MEMBER_BYTES:
            raise _reject(422, "zip_member_too_large",
                          f"ファイルの中身「{info.filename}」が大きすぎます（展開後 {info.file_size:,} バイト）。")
        if info.file_size > RATIO_FLOOR_BYTES and (
                info.file_size > MAX_RATIO * max(info.compress_size, 1)):
            raise _reject(422, "zip_ratio",
                          f"ファイルの中身「{info.filename}」の圧縮率が異常です（圧縮爆弾の疑い）。受け付けられません。")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise _reject(422, "zip_too_large",
                      f"展開後のサイズが大きすぎます（{total:,} バイト、上限 {MAX_TOTAL_BYTES:,} バイト）。")
    return infos


def _prolog(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as fh:
        return fh.read(PROLOG_BYTES)


def _parse(data: bytes):
    from defusedxml.ElementTree import fromstring

    return fromstring(data)


def sheet_members(zf: zipfile.ZipFile, names: set[str]) -> list[tuple[str, str | None]]:
    """(sheet name, member path) in workbook order, from xl/workbook.xml and its rels."""
    try:
        root = _parse(zf.read("xl/workbook.xml"))
        rels = {}
        if "xl/_rels/workbook.xml.rels" in names:
            for rel in _parse(zf.read("xl/_rels/workbook.xml.rels")):
                target = rel.get("Target") or ""
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join("xl", target))
                rels[rel.get("Id")] = path
    except Exception:
        raise _reject(422, "not_xlsx",
                      "Excel ファイル（.xlsx）として読み取れません（ブックの構成が壊れています）。") from None
    out = []
    for sheet in root.iter(f"{{{NS_MAIN}}}sheet"):
        out.append((sheet.get("name") or "", rels.get(sheet.get(f"{{{NS_REL}}}id"))))
    return out


def check_workbook(content: bytes, known_sheets: Iterable[str] = ()) -> WorkbookInfo:
    """Every structural check of an .xlsx, from its bytes. ``known_sheets``: the header
    sheets of the forms (at least one must be present; empty to skip)."""
    if not content.startswith(b"PK\x03\x04"):
        raise _reject(422, "not_zip",
                      "Excel ファイル（.xlsx）ではありません。様式の Excel ファイルをアップロードしてください。")
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise _reject(422, "not_zip",
                      "Excel ファイル（.xlsx）として読み取れません（ファイルが壊れているか、形式が違います）。") from None
    with zf:
        infos = check_directory(zf)
        names = {i.filename for i in infos}
        for info in infos:
            if MACRO_MEMBERS.search(info.filename):
                raise _reject(422, "macros",
                              "マクロ（VBA）や ActiveX を含むファイルは受け付けられません。マクロを含まない .xlsx 形式で保存し直してください。")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise _reject(422, "not_xlsx",
                          "Excel ファイル（.xlsx）ではありません（ブックの構成がありません）。")
        try:
            for info in infos:
                if info.filename.lower().endswith((".xml", ".rels", ".vml")):
                    head = _prolog(zf, info)
                    if DTD.search(head):
                        raise _reject(422, "xml_dtd",
                                      f"ファイルの中身「{info.filename}」に DTD（実体宣言）が含まれています。Excel が保存したファイルではないため受け付けられません。")
            types = _prolog(zf, zf.getinfo("[Content_Types].xml"))
        except UploadRejected:
            raise
        except Exception:
            raise _reject(422, "not_xlsx",
                          "Excel ファイル（.xlsx）として読み取れません（ファイルが壊れています）。") from None
        if b"macroEnabled" in types:
            raise _reject(422, "macros",
                          "マクロ有効ブックは受け付けられません。マクロを含まない .xlsx 形式で保存し直してください。")
        sheets = sheet_members(zf, names)
        for name, path in sheets:
            if path is None or path not in names:
                continue
            try:
                head = _prolog(zf, zf.getinfo(path))
            except Exception:
                raise _reject(422, "not_xlsx",
                              f"「{name}」シートが読み取れません（ファイルが壊れています）。") from None
            match = DIMENSION.search(head)
            if match:
                last_col, last_row = match.group(3) or match.group(1), match.group(4) or match.group(2)
                rows, cols = int(last_row), column_number(last_col.decode("ascii"))
                if rows > MAX_SHEET_ROWS or cols > MAX_SHEET_COLS:
                    raise _reject(422, "sheet_too_large",
                                  f"「{name}」シートが大きすぎます（{rows:,} 行 × {cols:,} 列、上限 {MAX_SHEET_ROWS:,} 行 × {MAX_SHEET_COLS} 列）。"
                                  "様式以外の行や列を削除して保存し直してください。")
    sheet_names = [n for n, _ in sheets]
    known = list(known_sheets)
    if known and not set(known) & set(sheet_names):
        shown = "、".join(f"「{n}」" for n in sheet_names[:5]) or "なし"
        raise _reject(422, "no_known_form",
                      f"様式のシートが見つかりません（このファイルのシート: {shown}）。"
                      f"ダウンロードした様式（シート名 {'、'.join(known)}）に記入してアップロードしてください。")
    return WorkbookInfo(sheet_names)


def check_pdf(filename: str, content: bytes, limit: int = MAX_ATTACHMENT_BYTES) -> None:
    """An attachment must be a PDF (by its magic, not its name) within the size limit."""
    check_size(len(content), limit)
    if not content[:1024].lstrip(b"\x00\t\r\n ").startswith(b"%PDF-"):
        raise _reject(415, "not_pdf",
                      f"「{filename or '（ファイル名なし）'}」は PDF ファイルではありません。添付資料は PDF で提出してください。")


# --- a .zip of workbooks ---------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ZipEntry:
    """One file of a .zip of workbooks: its name in the archive (as shown to people) and
    either its bytes or why it was not read."""

    name: str
    content: bytes | None = None
    error: UploadRejected | None = None


def is_zip_name(filename: str) -> bool:
    return (filename or "").strip().lower().endswith(".zip")


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its maker wrote it: a name without the UTF-8 flag is often
    Shift_JIS (Windows' 「送る → 圧縮」), which zipfile decoded as cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("cp932")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None
            or ".." in parts or "\x00" in name)


def _skipped(name: str) -> bool:
    """Directories and what macOS adds to archives it makes: not files of the applicant."""
    base = name.rsplit("/", 1)[-1]
    return name.endswith("/") or name.startswith("__MACOSX/") or base.startswith("._") \
        or base in (".DS_Store", "Thumbs.db", "desktop.ini")


def read_zip(content: bytes, archive: str = "") -> list[ZipEntry]:
    """The entries of a .zip of workbooks, each with its bytes or the reason it was not
    read (:class:`UploadRejected`, reported by the entry's name); the archive as a whole
    raises :class:`UploadRejected` when it is not a zip or could be a bomb."""
    shown = archive or "zip ファイル"
    check_size(len(content), MAX_ZIP_BYTES)
    if not content.startswith(b"PK\x03\x04"):
        raise _reject(422, "not_zip", f"「{shown}」は zip ファイルとして読み取れません。")
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise _reject(422, "not_zip",
                      f"「{shown}」は zip ファイルとして読み取れません（壊れているか、形式が違います）。") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise _reject(422, "zip_too_many_entries",
                          f"「{shown}」の中のファイルが多すぎます（{len(infos):,} 個、上限 {MAX_ZIP_ENTRIES} 個）。")
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_TOTAL_BYTES:
            raise _reject(422, "zip_too_large",
                          f"「{shown}」の展開後のサイズが大きすぎます（{total / MIB:,.1f} MB、上限 "
                          f"{MAX_ZIP_TOTAL_BYTES // MIB} MB）。")
        out: list[ZipEntry] = []
        for info in infos:
            name = _entry_name(info)
            if _unsafe_name(name):
                out.append(ZipEntry(name, error=_reject(
                    422, "zip_unsafe_name",
                    "ファイル名にフォルダの外を指す部分（「..」や先頭の「/」）があるため読みません。")))
                continue
            if _skipped(name):
                continue
            out.append(_read_entry(zf, info, name))
        return out


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> ZipEntry:
    if is_zip_name(name):
        return ZipEntry(name, error=_reject(
            422, "zip_nested", "zip ファイルの中の zip ファイルは読みません。Excel ファイル（.xlsx）を直接入れてください。"))
    try:
        check_name(name.rsplit("/", 1)[-1])
    except UploadRejected as exc:
        return ZipEntry(name, error=exc)
    if info.flag_bits & 0x1:
        return ZipEntry(name, error=_reject(
            422, "encrypted", "パスワードで保護（暗号化）されているため読み取れません。"))
    if info.file_size > MAX_UPLOAD_BYTES:
        return ZipEntry(name, error=_reject(
            413, "too_large", f"ファイルが大きすぎます（展開後 {info.file_size / MIB:,.1f} MB、上限 "
                              f"{MAX_UPLOAD_BYTES / MIB:,.0f} MB）。"))
    if info.file_size > ZIP_RATIO_FLOOR_BYTES and (
            info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1)):
        return ZipEntry(name, error=_reject(
            422, "zip_ratio", "圧縮率が異常です（圧縮爆弾の疑い）。受け付けられません。"))
    try:
        with zf.open(info) as fh:      # zipfile stops at the declared size and checks the CRC
            data = fh.read(MAX_UPLOAD_BYTES + 1)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError,
            RuntimeError, zlib.error):
        return ZipEntry(name, error=_reject(
            422, "zip_entry_broken", "zip ファイルの中のこのファイルが壊れていて読み取れません。"))
    return ZipEntry(name, content=data)
