"""Fakes for the edge tests: content-addressed files, a recording origin, an edge app on either."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from litestar.testing import AsyncTestClient

from instamini.config import EdgeConfig
from instamini.edge.app import create_edge_app

ORIGIN = "http://127.0.0.1:8000"  # a name only: the fake origin is a transport, no socket


def media_file(size: int, seed: int = 0, ext: str = "webp") -> tuple[str, bytes]:
    """(name, bytes) of a file named the way the origin names it: `<sha256>.<ext>`."""
    body = random.Random(seed).randbytes(size)
    return f"{hashlib.sha256(body).hexdigest()}.{ext}", body


class Chunks(httpx.AsyncByteStream):
    """A response body that arrives in pieces, as from a socket (a plain `content=` arrives read)."""

    def __init__(self, *parts: bytes) -> None:
        self.parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


class FakeOrigin:
    """An origin as an httpx transport: serves `files` at /media/<name>, echoes every other request
    as JSON, and records each request it gets (`requests`)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.failure: Exception | None = None  # raised for every request when set
        self.transport = httpx.MockTransport(self.handle)

    def add(self, size: int, seed: int = 0, ext: str = "webp") -> tuple[str, bytes]:
        name, body = media_file(size, seed, ext)
        self.files[name] = body
        return name, body

    def media_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.startswith("/media/")]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(await request.aread())
        if self.failure is not None:
            raise self.failure
        if request.url.path.startswith("/media/"):
            body = self.files.get(request.url.path.removeprefix("/media/"))
            if body is None:
                return httpx.Response(404, json={"status_code": 404, "detail": "no such media file"})
            return httpx.Response(200, headers={"content-length": str(len(body))}, stream=Chunks(body[:1000], body[1000:]))
        echo = {
            "method": request.method,
            "path": request.url.raw_path.decode(),
            "headers": dict(request.headers),
            "body": self.bodies[-1].decode(errors="replace"),
        }
        encoded = json.dumps(echo).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(encoded))), ("set-cookie", "a=1"),
                   ("set-cookie", "b=2"), ("x-origin", "yes"), ("connection", "x-secret"), ("x-secret", "hop only")]
        return httpx.Response(201 if request.method == "POST" else 200, headers=headers, stream=Chunks(encoded))


class Streaming(httpx.AsyncBaseTransport):
    """Puts Litestar's test transport behind the edge as a socket would be: that transport
    reads a request body synchronously (so it gets the streamed body read first) and hands
    back answers already read (so they are handed on as streams, for the proxy to relay)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.inner.handle_async_request(request)
        raw = b"".join([part async for part in response.stream])  # the bytes as sent, before any decoding
        return httpx.Response(response.status_code, headers=response.headers.raw, stream=Chunks(raw))


def edge_settings(cache_dir: Path, origins: list[str] | None = None, **changes) -> EdgeConfig:
    return EdgeConfig(origins=origins or [ORIGIN], cache_dir=str(cache_dir), **changes)


@asynccontextmanager
async def edge_client(settings: EdgeConfig, transport: httpx.AsyncBaseTransport | None) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_edge_app(settings, transport=transport)) as client:
        yield client


def metric(text: str, name: str) -> float:
    """The value of an unlabelled metric in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")
