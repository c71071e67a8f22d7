"""What an upload is, judged from its first bytes, never from its name or Content-Type.

The idea: a file's name and the browser's Content-Type are whatever the sender says;
the first bytes ("magic numbers") say what a decoder will actually see. We sniff
them as the upload starts, so a PDF, an SVG, a web page or a playlist named
`photo.jpg` or `clip.mp4` is refused before it is stored, and so that the size cap
of its kind (photos are smaller than videos) applies. The worker checks again with
its decoders' own allow-lists: sniffing is the cheap first gate, not the only one.

Cost: one look at the first 32 bytes of each upload.
"""

from __future__ import annotations

SNIFF_BYTES = 32
SUPPORTED = "JPEG, PNG, WebP, GIF or HEIC photos and MP4, MOV or WebM videos"

# ISO base media files (MP4, MOV, HEIC) start with a box: 4 bytes of size, "ftyp",
# then a 4-byte "major brand" that says which profile the file follows.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
# Old QuickTime files may start with another top-level atom instead of "ftyp".
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def sniff(head: bytes) -> str | None:
    """'image', 'video', or None for anything we do not accept."""
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if head[:6] in (b"GIF87a", b"GIF89a") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _HEIF_BRANDS else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3") or head[4:8] in _QUICKTIME_ATOMS:  # Matroska/WebM, QuickTime
        return "video"
    return None
