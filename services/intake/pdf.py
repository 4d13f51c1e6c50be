"""HTML → PDF with a converter the machine has: headless Chromium (``--print-to-pdf``) or
LibreOffice (``soffice --headless --convert-to pdf``).

Which one: ``NWS_PDF_CONVERTER`` (chromium | libreoffice) forces it, else the first one
found, Chromium first. The programs are looked up on PATH (chromium, chromium-browser,
google-chrome; soffice, libreoffice) unless ``NWS_PDF_CHROMIUM`` / ``NWS_PDF_SOFFICE``
name them; set to an empty value, the converter counts as not installed.

The converter reads one self-contained file the suite rendered itself (the style sheet
inlined) and makes no request: the document's own Content-Security-Policy allows
nothing but its inline style (no script either: the document has none), Chromium runs
with every host name
unresolvable and every connection sent to a closed proxy, and each run has a throw-away
profile in a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from pathlib import Path

from shared.config import Settings

CHROMIUM, LIBREOFFICE = "chromium", "libreoffice"
PROGRAMS = {CHROMIUM: ("chromium", "chromium-browser", "google-chrome"),
            LIBREOFFICE: ("soffice", "libreoffice")}
TIMEOUT = 120          # seconds one conversion may take
#: what the converted document may load: nothing but its inline style sheet
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class ConversionError(Exception):
    """The converter ran but made no PDF (the message says why, for the log)."""


@dataclasses.dataclass(frozen=True)
class Converter:
    name: str     # chromium | libreoffice
    path: str


def _program(configured: str | None, names: tuple[str, ...]) -> str | None:
    if configured is not None:
        return shutil.which(configured.strip()) if configured.strip() else None
    return next((found for n in names if (found := shutil.which(n))), None)


def find_converter(settings: Settings) -> Converter | None:
    """The converter to use, or None when none is installed."""
    configured = {CHROMIUM: settings.pdf_chromium, LIBREOFFICE: settings.pdf_soffice}
    for name in ([settings.pdf_converter] if settings.pdf_converter else [CHROMIUM, LIBREOFFICE]):
        path = _program(configured[name], PROGRAMS[name])
        if path is not None:
            return Converter(name, path)
    return None


def self_contained(html: str, css: str) -> str:
    """``html`` with ``css`` inlined and a policy that lets it load nothing else."""
    head = (f'<meta http-equiv="Content-Security-Policy" content="{DOCUMENT_CSP}">'
            f"<style>{css}</style></head>")
    return html.replace("</head>", head, 1)


def convert(converter: Converter, html: str, css: str) -> bytes:
    """The PDF of ``html`` (styled by ``css``); ConversionError if none came out."""
    with tempfile.TemporaryDirectory(prefix="nws-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "application.html"
        source.write_text(self_contained(html, css), encoding="utf-8")
        if converter.name == CHROMIUM:
            target = folder / "application.pdf"
            command = [converter.path, "--headless", "--no-sandbox", "--disable-gpu",
                       "--no-first-run", "--disable-extensions", "--disable-sync",
                       "--disable-background-networking", "--disable-component-update",
                       "--disable-default-apps",
                       "--host-resolver-rules=MAP * ~NOTFOUND",
                       "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                       f"--user-data-dir={folder / 'profile'}", "--no-pdf-header-footer",
                       f"--print-to-pdf={target}", source.as_uri()]
        else:
            target = folder / "application.pdf"
            command = [converter.path, "--headless", "--norestore", "--nolockcheck",
                       f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                       "--convert-to", "pdf", "--outdir", str(folder),
                       str(source)]
        try:
            run = subprocess.run(command, capture_output=True, timeout=TIMEOUT, cwd=folder,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ConversionError(f"{converter.name} took longer than {TIMEOUT} s") from None
        if not target.exists() or not target.read_bytes().startswith(b"%PDF-"):
            raise ConversionError(f"{converter.name} made no PDF (exit {run.returncode}): "
                                  f"{run.stderr.decode(errors='replace')[-500:]}")
        return target.read_bytes()
