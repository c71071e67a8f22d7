"""What the media routes send and receive."""

from __future__ import annotations

from msgspec import Struct

from ..ids import iso_from_ms
from .records import MediaRecord


class VariantOut(Struct):
    url: str
    role: str
    content_type: str
    width: int
    height: int
    bytes: int


class MediaOut(Struct):
    id: str
    kind: str
    status: str
    reason: str | None
    alt_text: str
    width: int | None
    height: int | None
    duration_ms: int | None
    placeholder: str | None
    variants: list[VariantOut]
    created_at: str


def media_out(record: MediaRecord) -> MediaOut:
    variants = [VariantOut(v.url, v.role, v.content_type, v.width, v.height, v.bytes) for v in record.variants]
    return MediaOut(
        id=str(record.id),
        kind=record.kind,
        status=record.status,
        reason=record.reason,
        alt_text=record.alt_text,
        width=record.width,
        height=record.height,
        duration_ms=record.duration_ms,
        placeholder=record.placeholder,
        variants=variants,
        created_at=iso_from_ms(record.created_ms),
    )
