"""The crash loop's write load, and the ledger of what the server acknowledged.

The idea: to show that a crash loses no acknowledged write, the client must remember
exactly which writes were acknowledged (a 2xx arrived) and which were still in flight
when the server died (those may or may not have landed; both are right). A few threads
write as a small cast of people: posts (of photos uploaded and processed beforehand),
likes, comments, follows and unfollows, direct messages. Each write goes into the ledger
as acknowledged, with what it must leave behind (the id the server gave, a text no other
write has), or as in flight when its connection broke. Each person is driven by one
thread only, so their writes happen in order; a pair's follow state is changed at most
once per cycle, so the last acknowledged follow or unfollow is the state to find.

Cost: one HTTP request per write; the ledger keeps every write (a few thousand).
"""

from __future__ import annotations

import io
import random
import threading
import time
from dataclasses import dataclass, field

import httpx
from PIL import Image

from ..ranker.spam_seed import HAM

KINDS = ("post", "like", "comment", "follow", "unfollow", "message")
# How often each kind is chosen (a choice that cannot be made, say a like with no post
# left to like, is drawn again).
WEIGHTS = {"post": 15, "like": 30, "comment": 25, "follow": 12, "unfollow": 3, "message": 15}
PASSWORD = "crash-loop password"


@dataclass
class Person:
    index: int
    name: str
    headers: dict[str, str]
    photos: list[str] = field(default_factory=list)  # ready uploads not yet in a post


@dataclass
class Write:
    kind: str
    actor: int  # index of the person writing
    target: str  # a post id (like, comment), a person's index (follow, unfollow) or a thread id (message)
    text: str  # unique: the caption and idempotency key of a post, a comment's or message's text
    cycle: int
    photos: list[str] = field(default_factory=list)
    result: str | None = None  # the id the server answered with
    acked: bool = False  # a 2xx arrived; False while in flight, and for good if the server died first
    retried: bool = False  # in flight at a kill, then sent again after the restart (idempotent kinds)


class Ledger:
    """Every write sent, and the state the acknowledged ones must leave. Thread-safe."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.writes: list[Write] = []
        self.in_flight: list[Write] = []  # broken off by a kill, not yet retried
        self.refused: list[str] = []  # non-2xx answers: none are expected
        self.post_ids: list[str] = []  # acknowledged posts, for likes and comments to pick from
        self.follows: dict[tuple[int, int], bool | None] = {}  # (a, b): a follows b; None: unknown
        self.cycle, self.acked_in_cycle, self.last_acked = 0, 0, ""
        self._touched: set[tuple[int, int]] = set()
        self._texts = 0

    def begin_cycle(self, cycle: int) -> None:
        with self.changed:
            self.cycle, self.acked_in_cycle, self._touched = cycle, 0, set()

    def unique_text(self, kind: str) -> str:
        """A text no other write has: a post's caption (and idempotency key); for a comment or
        a message, a friendly phrase and a number, so the spam model lets it through (texts
        it calls spam are stored but shown to their author only)."""
        with self.changed:
            self._texts += 1
            if kind == "post":
                return f"post-{self._texts}-of-cycle-{self.cycle}"
            return f"{HAM[self._texts % len(HAM)]} ({self._texts})"

    def touch(self, pair: tuple[int, int]) -> bool:
        """Claim a pair's follow state for this cycle; False if it was changed already."""
        with self.changed:
            if pair in self._touched:
                return False
            self._touched.add(pair)
            return True

    def ack(self, write: Write, result: str | None) -> None:
        with self.changed:
            write.acked, write.result = True, result
            if not write.retried:
                self.writes.append(write)
                self.acked_in_cycle += 1
                self.last_acked = write.kind
            if write.kind == "post":
                self.post_ids.append(result)
            elif write.kind in ("follow", "unfollow"):
                self.follows[(write.actor, int(write.target))] = write.kind == "follow"
            self.changed.notify_all()

    def broken_off(self, write: Write) -> None:
        with self.changed:
            self.writes.append(write)
            self.in_flight.append(write)
            if write.kind in ("follow", "unfollow"):
                self.follows[(write.actor, int(write.target))] = None

    def refuse(self, write: Write, response: httpx.Response) -> None:
        with self.changed:
            self.refused.append(f"{write.kind} by #{write.actor}: {response.status_code} {response.text[:200]}")

    def wait_for_acks(self, count: int, timeout: float, then: str | None = None) -> bool:
        """Block until `count` writes were acknowledged in this cycle, and then, if given, one
        of kind `then` (a post: its fan-out is probably still running): the moment to kill."""
        with self.changed:
            return self.changed.wait_for(
                lambda: self.acked_in_cycle >= count and then in (None, self.last_acked), timeout
            )

    def acked(self, kind: str) -> list[Write]:
        return [w for w in self.writes if w.kind == kind and w.acked]

    def unknown(self, kind: str) -> list[Write]:
        """Writes of this kind broken off by a kill and never retried: they may or may not be there."""
        return [w for w in self.writes if w.kind == kind and not w.acked]


class Cast:
    """The people who write, each with a direct thread with the next one (a ring)."""

    def __init__(self, people: list[Person], threads: dict[int, list[str]]) -> None:
        self.people, self.threads = people, threads  # threads: person index -> their thread ids
        self._shade = 0

    @classmethod
    def register(cls, http: httpx.Client, count: int) -> Cast:
        people = []
        for index in range(count):
            name = f"crash{index}"
            response = http.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})
            response.raise_for_status()
            people.append(Person(index, name, {"Authorization": f"Bearer {response.json()['token']}"}))
        threads: dict[int, list[str]] = {index: [] for index in range(count)}
        for person in people:
            peer = people[(person.index + 1) % count]
            response = http.post("/api/v1/threads", json={"usernames": [peer.name]}, headers=person.headers)
            response.raise_for_status()
            threads[person.index].append(response.json()["id"])
            threads[peer.index].append(response.json()["id"])
        return cls(people, threads)

    def top_up(self, http: httpx.Client, photos_each: int, timeout: float = 60.0) -> None:
        """Upload photos until everyone has `photos_each` ready ones, and wait until they are processed."""
        waiting = []
        for person in self.people:
            while len(person.photos) + sum(p is person for p, _ in waiting) < photos_each:
                self._shade += 1
                files = {"file": ("photo.jpg", small_jpeg(self._shade))}
                response = http.post("/api/v1/media", files=files, headers=person.headers)
                response.raise_for_status()
                waiting.append((person, response.json()["id"]))
        deadline = time.monotonic() + timeout
        for person, media_id in waiting:
            while (status := http.get(f"/api/v1/media/{media_id}", headers=person.headers).json()["status"]) == "processing":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"upload {media_id} still processing after {timeout} s")
                time.sleep(0.02)  # the server's media workers run on their own schedule
            if status != "ready":
                raise RuntimeError(f"upload {media_id} ended {status}")
            person.photos.append(media_id)


def small_jpeg(shade: int) -> bytes:
    """A tiny photo, different for each shade (so no two uploads are the same bytes)."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (shade % 256, (shade // 256) % 256, 120)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class WriteLoad(threading.Thread):
    """Writes as its people, one request at a time, until a request fails to reach the server."""

    def __init__(self, url: str, cast: Cast, people: list[Person], ledger: Ledger, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.cast, self.people, self.ledger = url, cast, people, ledger
        self.rng = random.Random(seed)
        self.liked: dict[int, set[str]] = {person.index: set() for person in people}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=30) as http:
                while True:
                    write = self._next_write(self.rng.choice(self.people))
                    if write is not None and not self._send(http, write):
                        return
        except BaseException as error:  # reported by the driver, not lost in the thread
            self.error = error

    def _send(self, http: httpx.Client, write: Write) -> bool:
        """Send one write and record its fate; False once the server is gone."""
        try:
            response = send(http, self.cast, write)
        except httpx.ConnectError:
            self._never_sent(write)  # the connection was refused: nothing reached the server
            return False
        except httpx.TransportError:
            self.ledger.broken_off(write)
            return False
        if response.is_success:
            self.ledger.ack(write, answer_id(write, response))
        else:
            self.ledger.refuse(write, response)
        return True

    def _never_sent(self, write: Write) -> None:
        if write.kind == "post":
            self.cast.people[write.actor].photos.extend(write.photos)
        elif write.kind == "like":
            self.liked[write.actor].discard(write.target)

    def _next_write(self, person: Person) -> Write | None:
        kind = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        ledger, cycle = self.ledger, self.ledger.cycle
        if kind == "post":
            if not person.photos:
                return None
            return Write("post", person.index, "", ledger.unique_text("post"), cycle, [person.photos.pop()])
        if kind in ("like", "comment"):
            with ledger.changed:
                choices = [p for p in ledger.post_ids if kind == "comment" or p not in self.liked[person.index]]
            if not choices:
                return None
            post_id = self.rng.choice(choices)
            if kind == "like":
                self.liked[person.index].add(post_id)
            return Write(kind, person.index, post_id, ledger.unique_text(kind), cycle)
        if kind in ("follow", "unfollow"):
            other = self.rng.choice([p for p in self.cast.people if p is not person])
            following = ledger.follows.get((person.index, other.index))
            if (following is True) != (kind == "unfollow") or not ledger.touch((person.index, other.index)):
                return None  # an unknown state (None) is settled by a follow
            return Write(kind, person.index, str(other.index), "", cycle)
        thread_id = self.rng.choice(self.cast.threads[person.index])
        return Write("message", person.index, thread_id, ledger.unique_text("message"), cycle)


def send(http: httpx.Client, cast: Cast, write: Write) -> httpx.Response:
    """The request that makes a write (also used to retry one that was in flight)."""
    headers = cast.people[write.actor].headers
    if write.kind == "post":
        body = {"caption": write.text, "media_ids": write.photos}
        return http.post("/api/v1/posts", json=body, headers={**headers, "Idempotency-Key": write.text})
    if write.kind == "like":
        return http.post(f"/api/v1/posts/{write.target}/like", headers=headers)
    if write.kind == "comment":
        return http.post(f"/api/v1/posts/{write.target}/comments", json={"text": write.text}, headers=headers)
    if write.kind in ("follow", "unfollow"):
        path = f"/api/v1/users/{cast.people[int(write.target)].name}/follow"
        return http.request("POST" if write.kind == "follow" else "DELETE", path, headers=headers)
    return http.post(f"/api/v1/threads/{write.target}/messages", json={"text": write.text}, headers=headers)


def answer_id(write: Write, response: httpx.Response) -> str | None:
    return response.json()["id"] if write.kind in ("post", "comment", "message") else None
