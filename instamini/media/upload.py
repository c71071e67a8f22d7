"""Receiving an upload: multipart streamed straight to a file, under a size cap.

The idea: a 300 MB video must not become 300 MB of server memory, so the request
body is parsed as it arrives (python-multipart's streaming parser; Litestar's own
form parsing reads the whole body first) and the file part goes to disk chunk by
chunk. The first bytes are sniffed (sniff.py) to refuse what we do not accept and
to pick the cap (photos are capped lower than videos); going over the cap stops
the upload with 413 and deletes what was written. The file is fsynced before the
caller records the job, so an acknowledged upload survives a power cut.

Cost: memory of one network chunk plus the parser's state; one thread hop per
chunk written; one fsync per upload.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import msgspec
from anyio import to_thread
from litestar import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import InvalidInput, TooLarge, UnsupportedMedia
from .sniff import SNIFF_BYTES, SUPPORTED, sniff

# Form fields besides the file are tiny; this bounds what a hostile body can make us keep.
MAX_FIELD_BYTES = 16 * 1024


class ReceivedUpload(msgspec.Struct):
    path: Path
    kind: str
    size: int
    alt_text: str


class _Part:
    """The part being parsed: its field name, and for the file its head and size so far."""

    def __init__(self) -> None:
        self.header_field = b""
        self.header_value = b""
        self.name = ""
        self.filename: str | None = None


class _UploadParser:
    """Callbacks for the streaming parser; file bytes wait in `pending` for the next write."""

    def __init__(self, caps: dict[str, int], max_alt_text: int) -> None:
        self.caps, self.max_alt_text = caps, max_alt_text
        self.part = _Part()
        self.pending: list[bytes] = []
        self.head = b""
        self.kind: str | None = None
        self.size = 0
        self.files = 0
        self.fields: dict[str, bytes] = {}
        self.field_bytes = 0
        self.ended = False

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header(field=data[start:end]),
            "on_header_value": lambda data, start, end: self._header(value=data[start:end]),
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.part = _Part()

    def _header(self, field: bytes = b"", value: bytes = b"") -> None:
        self.part.header_field += field
        self.part.header_value += value
        if len(self.part.header_field) + len(self.part.header_value) > MAX_FIELD_BYTES:
            raise InvalidInput("multipart part headers are too long")

    def _header_end(self) -> None:
        if self.part.header_field.lower() == b"content-disposition":
            _, options = parse_options_header(self.part.header_value)
            self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
            filename = options.get(b"filename")
            self.part.filename = None if filename is None else filename.decode("utf-8", "replace")
            if self.part.name == "file":
                self.files += 1
                if self.files > 1:
                    raise InvalidInput("file: send one file per upload")
            else:  # a field's name is kept with its value, so it counts against the same bound
                self._count_field_bytes(len(self.part.name))
        self.part.header_field = self.part.header_value = b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.part.name != "file":
            self._count_field_bytes(len(chunk))
            self.fields[self.part.name] = self.fields.get(self.part.name, b"") + chunk
            return
        self.size += len(chunk)
        if self.kind is None:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES:
                self._decide_kind()
        if self.kind is not None and self.size > self.caps[self.kind]:
            raise TooLarge(f"file: larger than the {self.caps[self.kind] // 2**20} MB limit for {self.kind}s")
        self.pending.append(chunk)

    def _count_field_bytes(self, size: int) -> None:
        self.field_bytes += size
        if self.field_bytes > MAX_FIELD_BYTES:
            raise InvalidInput("form fields besides the file are too long")

    def _part_end(self) -> None:
        if self.part.name == "file" and self.kind is None and self.size:
            self._decide_kind()  # a file shorter than the sniff window

    def _end(self) -> None:
        self.ended = True

    def _decide_kind(self) -> None:
        self.kind = sniff(self.head)
        if self.kind is None:
            raise UnsupportedMedia(f"file: not a supported photo or video; send {SUPPORTED}")

    def alt_text(self) -> str:
        try:
            text = self.fields.get("alt_text", b"").decode()
        except UnicodeDecodeError:
            raise InvalidInput("alt_text: not valid UTF-8") from None
        if len(text) > self.max_alt_text:
            raise InvalidInput(f"alt_text: longer than {self.max_alt_text} characters")
        return text


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMedia("send the upload as multipart/form-data with a `file` field")
    return boundary


async def receive_upload(request: Request, path: Path, caps: dict[str, int], max_alt_text: int) -> ReceivedUpload:
    """Stream the request's `file` field into `path` (fsynced); delete it on any failure."""
    state = _UploadParser(caps, max_alt_text)
    parser = MultipartParser(_boundary(request), state.callbacks())
    file = await to_thread.run_sync(path.open, "wb")
    try:
        async for chunk in request.stream():
            _feed(parser, chunk)
            if state.pending:
                await to_thread.run_sync(file.writelines, state.pending)
                state.pending.clear()
        _feed(parser, None)
        if not state.ended:
            raise InvalidInput("malformed multipart body: it ended before its closing boundary")
        if state.files == 0:
            raise InvalidInput("file: missing; send the photo or video in a field named `file`")
        if state.size == 0:
            raise InvalidInput("file: the file is empty")
        alt_text = state.alt_text()
        await to_thread.run_sync(_flush_and_sync, file)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(_discard, file, path)
        raise
    file.close()
    assert state.kind is not None  # decided once the first bytes arrived
    return ReceivedUpload(path=path, kind=state.kind, size=state.size, alt_text=alt_text)


def _feed(parser: MultipartParser, chunk: bytes | None) -> None:
    """Parse a chunk (None: the end); the parser's own errors become a 400."""
    try:
        parser.write(chunk) if chunk is not None else parser.finalize()
    except FormParserError:
        raise InvalidInput("malformed multipart body") from None


def _flush_and_sync(file) -> None:
    file.flush()
    os.fsync(file.fileno())


def _discard(file, path: Path) -> None:
    file.close()
    path.unlink(missing_ok=True)
