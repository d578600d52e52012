"""``/check``: the practice web site's upload checker, for multipart/form-data bodies and the HTML they carry.

Promises:

* :func:`inspect_upload` parses a ``multipart/form-data`` body like ``/check`` does and never raises: every
  encoding mistake becomes one sentence in the report's ``problems``. :func:`check_html` checks an HTML document
  the practice way (doctype, title, unclosed and stray tags).
* :class:`CheckPage` answers GET with the upload form (fixed: ``Last-Modified``, and 304 for a current copy) and
  POST with a report (200) or the problems (400). It keeps the reports of the last :data:`KEPT_REPORTS` uploads
  only; bodies reach it already capped by the site (:mod:`servers.web.bodies`).
"""

from __future__ import annotations

import email.policy
import email.utils
import html
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser

from servers.web.conditional import FIXTURES_MODIFIED, client_copy_is_current, not_modified
from servers.web.pages import HTML_TYPE, PracticePage, html_document

__all__ = ["CheckPage", "FormField", "HtmlCheck", "KEPT_REPORTS", "UploadReport", "check_html", "inspect_upload"]

KEPT_REPORTS = 20

VOID_ELEMENTS = frozenset("area base br col embed hr img input link meta param source track wbr".split())


@dataclass
class HtmlCheck:
    """What the practice checker found in an uploaded HTML document (stricter than HTML5: every non-void element
    must be closed)."""

    doctype: str | None
    title: str | None
    unclosed: list[str]
    stray: list[str]

    @property
    def problems(self) -> list[str]:
        found = []
        if self.doctype is None:
            found.append("no <!DOCTYPE ...> declaration")
        if not self.title:
            found.append("no <title> (or an empty one)")
        found += [f"unclosed tag {tag}" for tag in self.unclosed]
        found += [f"stray end tag {tag}" for tag in self.stray]
        return found

    @property
    def valid(self) -> bool:
        return not self.problems


class _TagChecker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.doctype: str | None = None
        self.title: str | None = None
        self.in_title = False
        self.unclosed: list[str] = []
        self.stray: list[str] = []

    def handle_decl(self, decl):
        if decl.lower().startswith("doctype") and self.doctype is None:
            self.doctype = decl

    def handle_starttag(self, tag, attrs):
        if tag in VOID_ELEMENTS:
            return
        self.open.append((tag, self.getpos()[0]))
        if tag == "title":
            self.in_title = True
            self.title = self.title or ""

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in VOID_ELEMENTS:
            return
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                self.unclosed += [f"<{name}> (line {line})" for name, line in self.open[index + 1:]]
                del self.open[index:]
                return
        self.stray.append(f"</{tag}> (line {self.getpos()[0]})")

    def handle_data(self, data):
        if self.in_title:
            self.title += data

    def finish(self) -> HtmlCheck:
        self.close()
        self.unclosed += [f"<{name}> (line {line})" for name, line in self.open]
        title = self.title.strip() if self.title is not None else None
        return HtmlCheck(self.doctype, title, self.unclosed, self.stray)


def check_html(document: bytes | str) -> HtmlCheck:
    """Check an HTML document the practice way: doctype, title, unclosed and stray tags (html.parser)."""
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    checker = _TagChecker()
    checker.feed(document)
    return checker.finish()


@dataclass
class FormField:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    size: int
    data: bytes = field(repr=False, default=b"")


@dataclass
class UploadReport:
    """What ``/check`` made of one upload: the fields, the checked file, and any problem with the encoding
    (``problems`` non-empty means the answer was 400)."""

    content_type: str | None
    boundary: str | None
    body_size: int
    fields: list[FormField] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked: FormField | None = None
    html: HtmlCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _lines(body: bytes) -> list[bytes]:
    return [line.rstrip(b"\r") for line in body.split(b"\n")]


def _show(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def inspect_upload(content_type: bytes | str | None, body: bytes) -> UploadReport:
    """Parse a ``multipart/form-data`` upload like ``/check`` does, with the stdlib ``email`` parser.

    Never raises: encoding mistakes are listed in the report's ``problems``, each saying exactly what is wrong.
    """
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    report = UploadReport(content_type, None, len(body))
    problems = report.problems
    if not content_type:
        problems.append("the request has no Content-Type header; a form upload needs "
                        "'Content-Type: multipart/form-data; boundary=...'")
        return report
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        problems.append(f"Content-Type is {content_type!r}, not multipart/form-data")
        return report
    boundary = header.get_param("boundary")
    if isinstance(boundary, tuple):  # an RFC 2231 encoded parameter
        boundary = email.utils.collapse_rfc2231_value(boundary)
    lines = _lines(body)
    first = next((line for line in lines if line.strip()), b"")
    if not boundary:
        hint = (f"; the body starts with the line {_show(first)}, but the server cannot know that it is meant "
                "as a delimiter" if first.startswith(b"-") else "")
        problems.append("Content-Type has no boundary parameter: it must say which string separates the parts, "
                        f"as in 'multipart/form-data; boundary=XYZ'{hint}")
        return report
    report.boundary = boundary
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    if not any(line.startswith(delimiter) for line in lines):
        bare = any(line.strip() == boundary.encode("latin-1", "replace") for line in lines)
        problems.append(f"the body has no delimiter line {delimiter.decode('latin-1')!r}: each part must begin with "
                        "a line of two hyphens followed by the boundary"
                        + (f" (the body has lines that are the bare boundary {boundary!r}, without the two "
                           "leading hyphens)" if bare else ""))
        return report
    if not any(line.rstrip() == delimiter + b"--" for line in lines):
        problems.append(f"the body has no closing delimiter line {(delimiter + b'--').decode('latin-1')!r} "
                        "after the last part")
        return report

    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if message.defects or not message.is_multipart():
        problems += [f"the body could not be parsed as multipart: {type(d).__name__}" for d in message.defects]
        problems += [] if message.defects else ["the body could not be parsed as multipart"]
        return report
    parts = message.get_payload()
    if not parts:
        problems.append("the body has no parts between its delimiters")
        return report
    for number, part in enumerate(parts, 1):
        name = part.get_param("name", header="content-disposition")
        if part.get_content_disposition() != "form-data" or not name:
            problems.append(f"part {number} has no 'Content-Disposition: form-data; name=\"...\"' header")
            continue
        data = part.get_payload(decode=True) or b""
        report.fields.append(FormField(str(name), part.get_filename(), part.get("content-type"), len(data), data))
    if problems:
        return report
    named = [f for f in report.fields if f.name == "uploaded_file"]
    files = named or [f for f in report.fields if f.filename is not None]
    if files:
        report.checked = files[0]
        report.html = check_html(files[0].data)
    return report


def _report_page(report: UploadReport) -> bytes:
    def cell(value) -> str:
        return "<td>(none)</td>" if value is None else f"<td>{html.escape(str(value))}</td>"

    rows = "\n".join(f"<tr>{cell(f.name)}{cell(f.filename)}{cell(f.content_type)}{cell(f.size)}</tr>"
                     for f in report.fields)
    parts = [f"<h1>Upload report</h1>\n<p>Received {report.body_size} bytes in {len(report.fields)} "
             f"field(s), boundary {html.escape(repr(report.boundary))}.</p>",
             f"<table>\n<tr><th>field</th><th>file name</th><th>content type</th><th>bytes</th></tr>\n{rows}\n"
             "</table>"]
    if report.checked is None:
        parts.append('<p id="result">No file was uploaded, so nothing was checked (the form\'s file field is '
                     "called <code>uploaded_file</code>).</p>")
    else:
        checked, found = report.checked, report.html
        unclosed = ", ".join(found.unclosed) or "none"
        stray = ", ".join(found.stray) or "none"
        parts.append(
            f"<h2>Checked: {html.escape(checked.name)} ({html.escape(checked.filename or 'no file name')})</h2>\n"
            "<ul>\n"
            f"<li>doctype: {html.escape('<!' + found.doctype + '>') if found.doctype else 'missing'}</li>\n"
            f"<li>title: {html.escape(repr(found.title)) if found.title else 'missing'}</li>\n"
            f"<li>unclosed tags: {html.escape(unclosed)}</li>\n"
            f"<li>stray end tags: {html.escape(stray)}</li>\n"
            "</ul>")
        verdict = ("This document passed the practice checks." if found.valid else
                   f"This document has {len(found.problems)} problem(s): "
                   + html.escape("; ".join(found.problems)) + ".")
        parts.append(f'<p id="result">{verdict}</p>')
    return html_document("Upload report", "\n".join(parts))


def _problem_page(report: UploadReport) -> bytes:
    items = "\n".join(f"<li>{html.escape(problem)}</li>" for problem in report.problems)
    return html_document("400 Bad Request", "<h1>400 Bad Request</h1>\n<p>The upload is not a proper "
                         f"multipart/form-data body:</p>\n<ul>\n{items}\n</ul>")


class CheckPage(PracticePage):
    """GET: the upload form (it posts back to its own address, wherever the site is served). POST: the upload
    report (200) or what is wrong with the encoding (400)."""

    FORM = html_document("Upload a file to check", '<h1>Upload a file to check</h1>\n<form method="post" '
                 'enctype="multipart/form-data">\n<input type="file" name="uploaded_file">\n'
                 '<input type="submit" value="Check">\n</form>')

    def __init__(self, keep: int = KEPT_REPORTS):
        super().__init__()
        self.reports: deque[UploadReport] = deque(maxlen=keep)

    def render_GET(self, request):
        if client_copy_is_current(request, FIXTURES_MODIFIED):
            return not_modified(request)
        request.setHeader(b"content-type", HTML_TYPE)
        return self.FORM

    def render_POST(self, request):
        request.content.seek(0)
        report = inspect_upload(request.getHeader(b"content-type"), request.content.read())
        self.reports.append(report)
        request.setHeader(b"content-type", HTML_TYPE)
        if not report.ok:
            request.setResponseCode(400)
            return _problem_page(report)
        return _report_page(report)
