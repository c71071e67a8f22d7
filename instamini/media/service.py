"""The media service: uploads become durable jobs; a loop hands jobs to the worker pool.

The idea (background work as explicit states, after Takahē): an upload is a
`media` row in state `processing` plus a `media_jobs` row, written together. The
job loop claims a queued job (`queued` -> `running`), has a worker process
re-encode the file, puts the outputs in the blob store, and records the outcome
(`ready` with variants, or `failed` with a reason) in the same transaction that
deletes the job. A stop at any point leaves either a queued or running job (run
again at the next start) or a finished one; never a lost upload. `run_once()` does
one round, so tests step the loop instead of sleeping. Between processing and
recording, content checks (`content_checks`, then the plugins'
`instamini_media_check`) may refuse the result: it then fails with their reason,
and none of its files ever enters the blob store.

In a cluster an upload is received, and its job run, on the instance that owns the
uploader's shard (forwarding.py relays it there); the job loop, the start-up requeue
and the janitor look only at this instance's own shards, and `get` runs on the owner
of the media's shard.

Cost: two small writes per upload; one worker round trip per job; each output
file is hashed and fsynced once as it enters the blob store.
"""

from __future__ import annotations

import inspect
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import anyio
import msgspec
from anyio import to_thread
from litestar import Request

from ..cluster.forward import local_shards, owned
from ..config import Config
from ..errors import NotFound
from ..ids import IdGenerator, shard_of
from ..ranker.phash import to_signed
from ..stores.blobs import BlobStore
from ..stores.meta import ShardedMeta
from . import records
from .pool import JobFailed, WorkerPool
from .records import MediaRecord, Variant
from .upload import receive_upload

log = logging.getLogger(__name__)

TASKS = {"image": "instamini.media.images:process_image", "video": "instamini.media.videos:process_video"}
# A content check: (kind, phash, path of a JPEG rendition) -> a reason to refuse, or None.
ContentCheck = Callable[[str, int | None, str], Awaitable[str | None]]
# How often the janitor deletes uploads never posted and unreferenced blobs.
JANITOR_SECONDS = 600


class OutputFile(msgspec.Struct):
    file: str
    role: str
    content_type: str
    width: int
    height: int


class ProcessResult(msgspec.Struct):
    """What a worker reports; checked, because a worker that read a hostile file is not trusted blindly."""

    kind: str
    width: int
    height: int
    duration_ms: int | None
    placeholder: str | None
    variants: list[OutputFile]
    phash: Annotated[int, msgspec.Meta(ge=0)] | None = None  # perceptual hash (ranker/phash.py), 64 bits


class Job(msgspec.Struct):
    media_id: int
    owner_id: int
    kind: str
    upload_path: str


class MediaService:
    def __init__(
        self, config: Config, meta: ShardedMeta, blobs: BlobStore, ids: IdGenerator, pool: WorkerPool, emit: Callable[..., None]
    ) -> None:
        self.meta, self.blobs, self.ids, self.pool, self.emit = meta, blobs, ids, pool, emit
        self.settings = config.media
        self.max_alt_text = config.posts.max_alt_text_chars
        self.uploads = config.data_path / "uploads"
        self.work = self.uploads / "work"
        self.caps = {"image": config.media.max_image_mb * 2**20, "video": config.media.max_video_mb * 2**20}
        self._wakeup = anyio.Event()
        self._pool_lock = anyio.Lock()
        self._pool_started = False
        self.processed = self.failed = 0
        # SQL conditions an unused upload must also meet to be deleted: uploads in use
        # outside posts stay. Avatars (users, same shard) here; other modules add theirs.
        self.keep_clauses: list[str] = ["id NOT IN (SELECT avatar_media_id FROM users WHERE avatar_media_id IS NOT NULL)"]
        # Checks of a processed upload before it becomes ready (the moderation blocklist
        # adds one); then the plugins' instamini_media_check, through this pluggy manager.
        self.content_checks: list[ContentCheck] = []
        self.plugins: Any = None
        self.refused = 0
        # The cluster node when this instance is one of several (cluster/forward.py).
        self.cluster = None

    # -- start-up ------------------------------------------------------------------

    async def open(self) -> None:
        """Requeue jobs a stop interrupted, and delete files no job refers to."""
        await to_thread.run_sync(self._make_dirs)
        wanted: set[str] = set()
        for shard in self.own_shards():
            wanted.update(await self.meta.write(shard, self._requeue_interrupted))
        await to_thread.run_sync(self._delete_strays, wanted)

    def own_shards(self) -> Iterable[int]:
        """The shards whose uploads and jobs are this instance's: all of them, unless it is one of several."""
        return local_shards(self)

    def _make_dirs(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)  # outputs of jobs that did not finish
        self.work.mkdir(parents=True, exist_ok=True)

    def _requeue_interrupted(self, conn) -> list[str]:
        too_often = conn.execute(
            "SELECT media_id FROM media_jobs WHERE state = 'running' AND attempts >= ?", (self.settings.max_attempts,)
        ).fetchall()
        for (media_id,) in too_often:
            records.finish_failed(conn, media_id, "processing was interrupted too often; upload it again")
        conn.execute("UPDATE media_jobs SET state = 'queued' WHERE state = 'running'")
        return [row[0] for row in conn.execute("SELECT upload_path FROM media_jobs")]

    def _delete_strays(self, wanted: set[str]) -> None:
        for path in self.uploads.glob("*.upload"):
            if str(path) not in wanted:  # written, but the server stopped before the job was recorded
                path.unlink(missing_ok=True)

    # -- uploads ---------------------------------------------------------------------

    async def upload(self, owner_id: int, request: Request) -> MediaRecord:
        shard = shard_of(owner_id)
        media_id = self.ids.next_id(shard)
        path = self.uploads / f"{media_id}.upload"
        received = await receive_upload(request, path, self.caps, self.max_alt_text)
        now_ms = time.time_ns() // 1_000_000
        try:
            await self.meta.write(
                shard,
                lambda conn: records.insert_upload(
                    conn, media_id, owner_id, received.kind, received.alt_text, str(path), received.size, now_ms
                ),
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self.wake()
        return MediaRecord(
            media_id, owner_id, received.kind, "processing", None, received.alt_text, None, None, None, None, [], None, None, now_ms
        )

    @owned(lambda self, viewer_id, media_id: shard_of(media_id))
    async def get(self, viewer_id: int, media_id: int) -> MediaRecord:
        """An upload, for its owner only (others see media through the posts that show it)."""
        record = await records.load(self.meta, media_id)
        if record is None or record.owner_id != viewer_id:
            raise NotFound("no such media")
        return record

    def wake(self) -> None:
        self._wakeup.set()
        self._wakeup = anyio.Event()

    # -- the job loop ----------------------------------------------------------------

    async def run_once(self, limit: int | None = None) -> int:
        """Claim up to `limit` queued jobs (default: one per worker), process them, return how many."""
        jobs = await self._claim(limit or self.settings.workers)
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(self._process, job)
        return len(jobs)

    async def _claim(self, limit: int) -> list[Job]:
        # Look first (a read), then claim each job with a conditional update: several
        # loops may race for one job, and exactly one of them wins it.
        claimed: list[Job] = []
        for shard in self.own_shards():
            rows = await self.meta.read(
                shard,
                "SELECT j.media_id, m.owner_id, m.kind, j.upload_path FROM media_jobs j JOIN media m ON m.id = j.media_id "
                "WHERE j.state = 'queued' ORDER BY j.queued_ms LIMIT ?",
                (limit - len(claimed),),
            )
            for row in rows:
                if await self.meta.write(shard, lambda conn, media_id=row[0]: _claim_job(conn, media_id)):
                    claimed.append(Job(*row))
            if len(claimed) >= limit:
                break
        return claimed

    async def _process(self, job: Job) -> None:
        out_dir = self.work / str(job.media_id)
        try:
            await to_thread.run_sync(lambda: out_dir.mkdir(parents=True, exist_ok=True))
            args = {"source": job.upload_path, "out_dir": str(out_dir), "settings": msgspec.to_builtins(self.settings)}
            await self._start_pool()
            raw = await self.pool.run(TASKS[job.kind], args)
            result = msgspec.convert(raw, ProcessResult)
            refusal = await self._content_refusal(job.kind, result, out_dir)
            if refusal is None:
                await self._store_outputs(job, out_dir, result)
                self.processed += 1
                self.emit("media.ready", media_id=job.media_id, owner_id=job.owner_id, kind=job.kind)
            else:
                self.refused += 1
                await self._fail(job, refusal)
        except (JobFailed, msgspec.ValidationError) as error:
            await self._fail(job, str(error) if isinstance(error, JobFailed) else "the worker sent back a malformed result")
        finally:
            with anyio.CancelScope(shield=True):
                await to_thread.run_sync(self._clean_up, out_dir, job)

    async def _fail(self, job: Job, reason: str) -> None:
        await self.meta.write(shard_of(job.media_id), lambda conn: records.finish_failed(conn, job.media_id, reason))
        self.failed += 1
        self.emit("media.failed", media_id=job.media_id, owner_id=job.owner_id, reason=reason)

    async def _content_refusal(self, kind: str, result: ProcessResult, out_dir: Path) -> str | None:
        """The first reason a content check or a plugin gives to refuse this result, or None.

        Runs before anything enters the blob store, so a refused upload leaves nothing
        servable. `path` is our own JPEG (the fallback, or a video's poster) in the work dir.
        """
        jpegs = [output.file for output in result.variants if output.content_type == "image/jpeg"]
        if not jpegs or Path(jpegs[0]).name != jpegs[0]:
            raise msgspec.ValidationError("no JPEG rendition")
        path = str(out_dir / jpegs[0])
        for check in self.content_checks:
            if (reason := await check(kind, result.phash, path)) is not None:
                return reason
        if self.plugins is None:
            return None
        try:
            for answer in self.plugins.hook.instamini_media_check(kind=kind, phash=result.phash, path=path):
                reason = await answer if inspect.isawaitable(answer) else answer
                if reason is not None:
                    return str(reason)
        except Exception:  # a broken plugin is logged; it does not fail every upload
            log.exception("a plugin failed in instamini_media_check")
        return None

    async def _store_outputs(self, job: Job, out_dir: Path, result: ProcessResult) -> None:
        # Reference first, record second: a stop in between leaks a blob (gc cannot
        # tell), never a recorded variant whose file gc is free to delete.
        variants = []
        for output in result.variants:
            if Path(output.file).name != output.file or output.content_type not in records.EXTENSIONS:
                raise msgspec.ValidationError(f"bad output {output.file!r}")
            info = await self.blobs.put_file(out_dir / output.file)
            await self.blobs.incref(info.key)
            variants.append(Variant(info.key, output.role, output.content_type, output.width, output.height, info.size))
        recorded = await self.meta.write(
            shard_of(job.media_id),
            lambda conn: records.finish_ready(
                conn,
                job.media_id,
                width=result.width,
                height=result.height,
                duration_ms=result.duration_ms,
                placeholder=result.placeholder,
                variants=variants,
                phash=None if result.phash is None else to_signed(result.phash),
            ),
        )
        if not recorded:  # deleted while it was processing: give the references back
            for variant in variants:
                await self.blobs.decref(variant.key)

    async def _start_pool(self) -> None:
        # Workers start with the first job: an app that never gets an upload never pays for them.
        async with self._pool_lock:
            if not self._pool_started:
                await self.pool.start()
                self._pool_started = True

    def _clean_up(self, out_dir: Path, job: Job) -> None:
        shutil.rmtree(out_dir, ignore_errors=True)
        Path(job.upload_path).unlink(missing_ok=True)

    async def run_forever(self) -> None:
        """One of `workers` loops: take a job, or wait until an upload wakes it."""
        while True:
            wakeup = self._wakeup  # taken before looking, so a wake meanwhile is not missed
            if not await self.run_once(limit=1):
                with anyio.move_on_after(JANITOR_SECONDS):
                    await wakeup.wait()

    # -- the janitor -----------------------------------------------------------------

    async def collect_unused(self, now_ms: int | None = None) -> int:
        """Delete uploads never posted within `unused_media_hours`; returns how many."""
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        cutoff = now_ms - self.settings.unused_media_hours * 3_600_000
        deleted = 0
        for shard in self.own_shards():
            keys, count = await self.meta.write(shard, lambda conn: _delete_unused(conn, cutoff, self.keep_clauses))
            deleted += count
            for key in keys:
                await self.blobs.decref(key)
        return deleted

    async def janitor(self, blob_grace_seconds: int) -> None:
        while True:
            await anyio.sleep(JANITOR_SECONDS)
            try:
                await self.collect_unused()
                await self.blobs.gc(blob_grace_seconds)
            except Exception:  # a janitor round failing must not stop the next one
                log.exception("media janitor round failed")

    def stats(self) -> dict:
        return {"processed": self.processed, "failed": self.failed, "refused": self.refused, **self.pool.stats()}


def _claim_job(conn, media_id: int) -> bool:
    return bool(
        conn.execute(
            "UPDATE media_jobs SET state = 'running', attempts = attempts + 1 WHERE media_id = ? AND state = 'queued'",
            (media_id,),
        ).rowcount
    )


def _delete_unused(conn, cutoff_ms: int, keep_clauses: list[str]) -> tuple[list[str], int]:
    keep = "".join(f" AND {clause}" for clause in keep_clauses)
    rows = conn.execute(
        f"DELETE FROM media WHERE post_id IS NULL AND status != 'processing' AND created_ms < ?{keep} "
        f"RETURNING {records.COLUMNS}",
        (cutoff_ms,),
    ).fetchall()
    found = [records.record_from_row(row) for row in rows]
    return records.blob_keys(found), len(found)
