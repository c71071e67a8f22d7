"""Processing tasks with the real signature that misbehave, to test the job loop's handling."""

from __future__ import annotations

import ctypes


def segfault(source: str, out_dir: str, settings: dict) -> dict:
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a buggy C decoder would
    raise AssertionError("unreachable")


def lying_result(source: str, out_dir: str, settings: dict) -> dict:
    """A result naming a file outside the job's folder: the server must not trust it."""
    return {
        "kind": "image",
        "width": 1,
        "height": 1,
        "duration_ms": None,
        "placeholder": None,
        "variants": [{"file": "../../../etc/passwd", "role": "image", "content_type": "image/webp", "width": 1, "height": 1}],
    }
