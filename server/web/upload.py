"""One uploaded file from a multipart/form-data request, read as it streams in, and what
can be told of it at once (`check_article`).

In: the request (its headers and body stream) and the size limit. Out: the `file` field's
name and bytes, or an IngestError: `too_large` (HTTP 413) as soon as the body says or
proves it is over the limit, `bad_request` (400) for a body that is not a form with a file.

Starlette's own form parser spools every file to a temporary file before the route sees
it, so a 1 GB body was written to disk whole before its 413. Here the bytes are counted
as they arrive and kept in memory only up to the limit: a body that announces too much
(`Content-Length`) is refused before any of it is read, and one that streams too much
(chunked, or lying) is refused at the limit, the rest unread."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from server.core.errors import IngestError, shown
from server.core.protocol import CONTROL
from server.reason.ingest.document import decode, kind_of

FIELD = "file"
# Room for the form's own bytes around the file: boundaries, part headers, a long name.
OVERHEAD = 16 * 1024


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None


class _FileReader:
    """python-multipart callbacks that keep the first file part of field `file`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.filename: str | None = None
        self.data = bytearray()
        self.done = False  # the file part has ended

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            self.part.filename = options[b"filename"].decode("utf-8", "replace")

    def _wanted(self) -> bool:
        return self.part.name == FIELD and self.part.filename is not None and not self.done

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._wanted():
            return  # other fields are counted in the body's total, not kept
        self.data += data[start:end]
        if len(self.data) > self.limit:
            raise too_large(self.limit)

    def on_part_end(self) -> None:
        if self._wanted():
            self.filename, self.done = self.part.filename, True


def too_large(limit: int) -> IngestError:
    return IngestError(f"the file is larger than the {limit}-byte limit", code="too_large")


async def read_file_field(request: Request, limit: int) -> tuple[str, bytes]:
    """(filename, bytes) of the form's `file` field, reading no more than the limit allows."""
    ceiling = limit + OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ceiling:
        raise too_large(limit)  # before reading a byte of it
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise IngestError(
            "send the article as multipart/form-data, in a field named 'file'", code="bad_request"
        )
    reader = _FileReader(limit)
    parser = MultipartParser(boundary, reader.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > ceiling:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise IngestError(f"the form could not be read: {exc}", code="bad_request") from exc
    if reader.filename is None:
        raise IngestError("the form has no file in a field named 'file'", code="bad_request")
    return reader.filename, bytes(reader.data)


MAX_NAME = 64  # a file's name as kept and repeated in messages (errors echo it)


def check_filename(filename: str) -> str:
    """The name to keep for an uploaded file: one with a control character (a NUL among
    them) is refused (`bad_request`, 400); a long one is cut to `MAX_NAME` characters,
    keeping its type's suffix, so no message repeats more than that of it."""
    if CONTROL.search(filename):
        raise IngestError(
            f"{shown(filename)}: a file name with control characters", code="bad_request"
        )
    if len(filename) <= MAX_NAME:
        return filename
    stem, dot, suffix = filename.rpartition(".")
    suffix = dot + suffix if stem and len(suffix) < 8 else ""
    return filename[: MAX_NAME - len(suffix) - 1] + "…" + suffix


def check_article(data: bytes, filename: str) -> None:
    """Refuse at once what can be told without reading the article: another type
    (`unsupported_type`, 415), a binary or non-text file (`bad_document`, 400), an empty
    one (`empty_document`, 400); the same checks, in the same order, as `parse` makes.
    Whether it holds article text is found by reading it, in the upload's job."""
    kind_of(filename)
    if b"\x00" in data:  # (decode looks at the start only) never stored: Postgres refuses it
        raise IngestError(f"{filename}: looks like a binary file, not text")
    if not decode(data, filename).strip():
        raise IngestError(f"{filename}: the file is empty", code="empty_document")
