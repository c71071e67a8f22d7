"""Helpers for media API tests: upload through HTTP, step the job loop, make small files."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.accounts.helpers import in_app
from tests.conftest import User


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def upload(client, user: User, data: bytes, filename: str = "photo.jpg", alt_text: str | None = None):
    form = {"alt_text": alt_text} if alt_text is not None else None
    return await client.post("/api/v1/media", files={"file": (filename, data)}, data=form, headers=user.headers)


def process_all(client) -> int:
    """Run the job loop until no job is queued; returns how many jobs ran."""
    total = 0
    while ran := in_app(client, client.app.state.media.run_once):
        total += ran
    return total


async def upload_ready(client, user: User, data: bytes | None = None, filename: str = "photo.jpg") -> dict:
    """Upload, process, and return the media as the API shows it once ready."""
    response = await upload(client, user, data or jpeg_bytes(), filename)
    assert response.status_code == 202, response.text
    process_all(client)
    media = (await client.get(f"/api/v1/media/{response.json()['id']}", headers=user.headers)).json()
    assert media["status"] == "ready", media
    return media


def uploads_dir(client) -> Path:
    return client.app.state.media.uploads


def leftover_uploads(client) -> list[Path]:
    """Files in data/uploads besides the work folder: originals of unfinished jobs."""
    return [path for path in uploads_dir(client).iterdir() if path.name != "work"]
