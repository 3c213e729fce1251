"""The code view: a submission's files as a page highlighted server-side with Pygments, as JSON and as a zip.

The names in the zip are the student's: they are shown escaped and never used as paths. Nothing is written to disk.
"""

from __future__ import annotations

import codecs
import functools
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from grader.service.access.auth import Principal
from grader.service.queue.records import SubmissionView
from grader.service.web import api
from grader.service.web.pages import page, render_page, signed_in

router = APIRouter()
MAX_FILE_SHOWN = 128 << 10  # bytes of one file highlighted on the page (Pygments takes about 0.5 s); the zip holds all
MAX_PAGE_SHOWN = 512 << 10  # bytes of all files together: the rest are listed, and in the zip
# Lexers by suffix, a short list on purpose: each is run on student text, so only lexers we know to be quick.
LEXERS = {
    ".py": "python",
    ".ipynb": "json",
    ".json": "json",
    ".toml": "toml",
    ".cfg": "ini",
    ".ini": "ini",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".sh": "bash",
    ".md": "markdown",
}
CSS_CLASS = "highlight"


@dataclass(frozen=True)
class ShownFile:
    """One file of a submission as the page shows it: highlighted text, or why it is not."""

    name: str
    size: int
    html: Markup | None = None  # Pygments' output: the text escaped, in spans with classes
    binary: bool = False
    shown: int = 0  # bytes highlighted; less than size when the file is cut
    skipped: bool = False  # not shown: the page already holds MAX_PAGE_SHOWN


def _stored(request: Request, who: Principal, submission_id: int) -> tuple[SubmissionView, bytes]:
    """The submission and its stored zip, if the caller may read them (another student's answers as a missing one)."""
    view = api.owned(request, who, submission_id, with_report=False)
    data = request.app.state.store.files_zip(submission_id)
    if data is None:  # deleted since
        raise HTTPException(404, f"no submission {submission_id} of yours")
    return view, data


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise HTTPException(500, "the stored files of this submission cannot be read") from None


def _members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)


def _text(head: bytes, *, whole: bool) -> str | None:
    """The bytes as text, or None if they are not UTF-8 (a cut file may end inside a character)."""
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=whole)
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def _highlight(name: str, text: str, anchor: str) -> Markup:
    lexer = get_lexer_by_name(LEXERS.get(PurePosixPath(name).suffix.lower(), "text"), stripnl=False)
    formatter = HtmlFormatter(
        cssclass=CSS_CLASS, linenos="inline", wrapcode=True, lineanchors=anchor, anchorlinenos=True
    )
    return Markup(highlight(text, lexer, formatter))  # Pygments escapes the text it wraps


def shown_files(data: bytes) -> list[ShownFile]:
    """Every file of a stored zip, by name, highlighted within the page's limits."""
    out, budget = [], MAX_PAGE_SHOWN
    with _open(data) as zf:
        for n, info in enumerate(_members(zf), 1):
            if budget <= 0:
                out.append(ShownFile(info.filename, info.file_size, skipped=True))
                continue
            limit = min(MAX_FILE_SHOWN, budget)
            with zf.open(info) as f:
                head = f.read(limit + 1)
            whole = len(head) <= limit
            head = head[:limit]
            text = _text(head, whole=whole)
            if text is None:
                out.append(ShownFile(info.filename, info.file_size, binary=True))
                continue
            budget -= len(head)
            html = _highlight(info.filename, text, f"f{n}")
            out.append(ShownFile(info.filename, info.file_size, html=html, shown=len(head)))
    return out


@functools.cache
def _stylesheet() -> str:
    return HtmlFormatter(cssclass=CSS_CLASS).get_style_defs(f".{CSS_CLASS}") + "\n"


@router.get("/static/code.css", name="code_css", include_in_schema=False)
def code_css() -> Response:
    """Pygments' classes as colours: a stylesheet from 'self', as the Content-Security-Policy wants."""
    return Response(_stylesheet(), media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.get("/submissions/{submission_id}/files", name="code_page", include_in_schema=False)
@page
def code_page(request: Request, submission_id: api.SubmissionId) -> Response:
    """A submission's files, highlighted (the JSON twin: GET /api/submissions/{id}/files)."""
    view, data = _stored(request, signed_in(request), submission_id)
    files = shown_files(data)
    context = {"sub": api.submission_json(view), "files": files, "max_file": MAX_FILE_SHOWN}
    return render_page(request, "code.html", context)


@router.get("/api/submissions/{submission_id}/files")
def list_files(request: Request, who: api.Caller, submission_id: api.SubmissionId) -> dict:
    """The names and sizes (bytes) of a submission's files, as stored; the files themselves: files.zip."""
    _, data = _stored(request, who, submission_id)
    with _open(data) as zf:
        members = _members(zf)
    return {
        "id": submission_id,
        "files": [{"name": i.filename, "size": i.file_size} for i in members],
        "zip": f"/api/submissions/{submission_id}/files.zip",
    }


@router.get("/api/submissions/{submission_id}/files.zip")
def download_files(request: Request, who: api.Caller, submission_id: api.SubmissionId) -> Response:
    """The submission's files as the zip the service stored and grades (normalized: sorted, fixed times)."""
    _, data = _stored(request, who, submission_id)
    disposition = f'attachment; filename="submission-{submission_id}.zip"'
    return Response(data, media_type="application/zip", headers={"Content-Disposition": disposition})
