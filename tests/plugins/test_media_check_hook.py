"""The instamini_media_check hook: a plugin refuses processed uploads, and the uploader sees why."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from PIL import Image

from instamini.app import create_app
from tests.conftest import register
from tests.media import samples
from tests.media.helpers import jpeg_bytes
from tests.moderation.test_blocklist import upload_processed as processed
from tests.ranker.scenes import encoded, scene
from tests.test_plugins import _with_plugins

TOO_DARK = '''
import anyio
from PIL import Image, ImageStat

from instamini.hookspecs import hookimpl

seen = []


def _brightness(path):
    with Image.open(path) as image:
        return ImageStat.Stat(image.convert("L")).mean[0]


@hookimpl
def instamini_media_check(kind, phash, path):
    seen.append((kind, phash, path.endswith(".jpg")))

    async def check():
        brightness = await anyio.to_thread.run_sync(_brightness, path)
        return "too dark to see anything" if brightness < 40 else None

    return check()
'''

QUIET = '''
from instamini.hookspecs import hookimpl


@hookimpl
def instamini_media_check(kind, phash, path):
    return None
'''

BROKEN = '''
from instamini.hookspecs import hookimpl


@hookimpl
def instamini_media_check(kind, phash, path):
    raise RuntimeError("plugin bug")
'''


async def test_a_plugin_refuses_dark_images(tmp_path):
    config = _with_plugins(tmp_path, {"too_dark.py": TOO_DARK, "quiet.py": QUIET})
    app = create_app(config)
    async with AsyncTestClient(app) as client:
        alice = await register(client, "alice")
        dark = await processed(client, alice, jpeg_bytes((64, 48), (10, 10, 12)))
        assert dark["status"] == "failed" and dark["reason"] == "too dark to see anything", dark
        assert dark["variants"] == []
        bright = await processed(client, alice, encoded(scene(2), "JPEG", quality=85))
        assert bright["status"] == "ready", bright
        too_dark = next(module for name, module in app.state.plugins.list_name_plugin() if name.endswith("too_dark"))
        (kind, phash, jpeg), _ = too_dark.seen
        assert kind == "image" and jpeg and 0 <= phash < 2**64
        video = await processed(client, alice, samples.mp4(tmp_path / "clip.mp4").read_bytes(), "clip.mp4")
        assert video["status"] in ("ready", "failed")
        kind, phash, jpeg = too_dark.seen[-1]
        assert kind == "video" and jpeg and phash is not None  # the poster frame's JPEG and hash


async def test_a_failing_plugin_does_not_fail_uploads(tmp_path):
    config = _with_plugins(tmp_path, {"broken.py": BROKEN})
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        media = await processed(client, alice, encoded(Image.new("RGB", (40, 30), "white"), "PNG"))
        assert media["status"] == "ready", media
