"""The issue's whole story on three real instances and an edge (LocalCluster on loopback).

ann lives on a, ben on b, cat on c (6 shards, two each). Each acts through an instance
that does not own them: they follow, ann posts a photo, the others read it in their
feeds and like it, ann and ben chat live; then c is killed (SIGKILL) while ann keeps
posting, comes back, and cat's feed has every post; the photo's second fetch through the
edge is a cache hit.
"""

from __future__ import annotations

import io
import json
import re
import signal
import time
from collections import Counter

import anyio
import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import connect

from instamini.accounts.service import shard_named_by
from instamini.cluster.launch import LocalCluster
from instamini.stores.meta import shard_for_text
from tests.cluster.harness import FAST

SHARDS = 6
OWNER = {0: "a", 1: "a", 2: "b", 3: "b", 4: "c", 5: "c"}
PASSWORD = "long enough pw"


def name_on(instance: str, stem: str) -> str:
    return next(f"{stem}{n}" for n in range(1000) if OWNER[shard_for_text(f"{stem}{n}", SHARDS)] == instance)


def session_instance(token: str) -> str:
    """Who checks the token: the owner of the shard its prefix names (its user's)."""
    return OWNER[shard_named_by(token)]


def eventually(check, timeout: float = 30.0):
    """Poll the cluster (it works in other processes) until `check()` is true; its last value."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


class Person:
    def __init__(self, cluster: LocalCluster, owner: str, stem: str, *, via: str, session_not_on: str = "") -> None:
        self.name, self.urls = name_on(owner, stem), cluster.urls
        answer = httpx.post(self.urls[via] + "/api/v1/accounts", json={"username": self.name, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        self.token = answer.json()["token"]
        assert session_instance(self.token) == owner != session_not_on  # it survives that instance's death
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def call(self, via: str, method: str, path: str, **options) -> httpx.Response:
        return httpx.request(method, self.urls[via] + path, headers=self.headers, timeout=30, **options)


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def feed_ids(person: Person, via: str) -> list[str]:
    answer = person.call(via, "GET", "/api/v1/feed?order=chronological")
    return [item["id"] for item in answer.json()["items"]] if answer.status_code == 200 else []


@pytest.fixture
def cluster(tmp_path):
    with LocalCluster(tmp_path, 3, shards=SHARDS, extra_toml=FAST) as running:
        yield running


def test_three_instances_follow_post_like_chat_survive_a_kill_and_serve_media_through_the_edge(cluster):
    ann = Person(cluster, "a", "ann", via="b", session_not_on="c")
    ben = Person(cluster, "b", "ben", via="c", session_not_on="c")
    cat = Person(cluster, "c", "cat", via="a")
    for person, via in ((ben, "a"), (cat, "b")):
        assert person.call(via, "POST", f"/api/v1/users/{ann.name}/follow").json()["state"] == "following"

    # ann's photo: uploaded through b (relayed to a, her owner), posted through c.
    media = ann.call("b", "POST", "/api/v1/media", files={"file": ("pier.jpg", photo())}).json()
    ready = eventually(lambda: (m := ann.call("c", "GET", f"/api/v1/media/{media['id']}").json())["status"] == "ready" and m)
    assert ready, "the upload did not become ready"
    post = ann.call("c", "POST", "/api/v1/posts", json={"caption": "the pier #sea", "media_ids": [media["id"]]}).json()
    assert eventually(lambda: feed_ids(ben, "a") == [post["id"]])
    assert eventually(lambda: feed_ids(cat, "b") == [post["id"]])

    assert cat.call("a", "POST", f"/api/v1/posts/{post['id']}/like").status_code == 200
    for via in "abc":
        seen = ben.call(via, "GET", f"/api/v1/posts/{post['id']}").json()
        assert seen["like_count"] == 1 and seen["liked"] is False, via
    assert ann.call("b", "GET", f"/api/v1/users/{ann.name}").json()["counts"]["followers"] == 2

    anyio.run(chat_live, cluster, ann, ben)

    # c dies mid-flight; a and b carry on; c comes back and cat's feed has everything.
    cluster.servers["c"].stop(signal.SIGKILL)
    later = []
    for n in range(2):
        more = ann.call("a", "POST", "/api/v1/media", files={"file": (f"more{n}.jpg", photo())}).json()
        assert eventually(lambda: ann.call("a", "GET", f"/api/v1/media/{more['id']}").json()["status"] == "ready")
        answer = ann.call("b", "POST", "/api/v1/posts", json={"caption": f"while c was down {n}", "media_ids": [more["id"]]})
        assert answer.status_code == 201, answer.text
        later.append(answer.json()["id"])
    assert eventually(lambda: feed_ids(ben, "b")[:2] == later[::-1])
    cluster.servers["c"].start()
    assert eventually(lambda: feed_ids(cat, "c") == [*later[::-1], post["id"]]), feed_ids(cat, "c")

    # The photo through the edge: fetched from an origin once, then from the edge's cache.
    url = cluster.edge.url + next(v["url"] for v in ready["variants"] if v["role"] == "image")
    first, second = httpx.get(url), httpx.get(url)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    hits = re.search(r"^instamini_edge_hits_total (\S+)$", httpx.get(cluster.edge.url + "/metrics").text, re.M)
    assert hits and float(hits.group(1)) >= 1


async def chat_live(cluster: LocalCluster, ann: Person, ben: Person) -> None:
    """ben's socket is on c; ann starts a thread and writes through b: it arrives live."""
    ws = cluster.urls["c"].replace("http://", "ws://") + "/ws"
    async with connect(ws, additional_headers=ben.headers) as socket:
        await socket.send('{"type": "ping"}')
        with anyio.fail_after(15):
            assert json.loads(await socket.recv())["type"] == "pong"
        async with httpx.AsyncClient(base_url=cluster.urls["b"], headers=ann.headers, timeout=30) as client:
            thread = (await client.post("/api/v1/threads", json={"usernames": [ben.name]})).json()
            sent = await client.post(f"/api/v1/threads/{thread['id']}/messages", json={"text": "hello from a"})
            assert sent.status_code == 201, sent.text
        with anyio.fail_after(15):
            while (frame := json.loads(await socket.recv()))["type"] != "message":
                pass
        assert frame["message"]["text"] == "hello from a"


def test_a_feed_page_of_three_instances_posts_costs_one_call_to_each_other_instance(cluster):
    """dan (on a) follows ann, ben and cat, one per instance, whose posts @mention each other;
    his page is hydrated with one load_owned call to b and one to c, and nothing else."""
    ann, ben, cat = (Person(cluster, owner, stem, via=owner) for owner, stem in (("a", "ann"), ("b", "ben"), ("c", "cat")))
    dan = Person(cluster, "a", "dan", via="a")
    posts = {}
    for person, owner in ((ann, "a"), (ben, "b"), (cat, "c")):
        assert dan.call("a", "POST", f"/api/v1/users/{person.name}/follow").json()["state"] == "following"
        media = person.call(owner, "POST", "/api/v1/media", files={"file": ("p.jpg", photo())}).json()
        assert eventually(lambda: person.call(owner, "GET", f"/api/v1/media/{media['id']}").json()["status"] == "ready")
        caption = f"hello @{ann.name} @{ben.name} @{cat.name}"
        posts[owner] = person.call(owner, "POST", "/api/v1/posts", json={"caption": caption, "media_ids": [media["id"]]}).json()["id"]
    assert dan.call("a", "POST", f"/api/v1/posts/{posts['b']}/like").status_code == 200
    assert dan.call("a", "POST", f"/api/v1/posts/{posts['c']}/save").status_code == 200
    assert eventually(lambda: len(feed_ids(dan, "a")) == 3)

    # Through his own instance and through the two others; in time order, and ranked (whose
    # first page also reads the counters of the window it ranks: one more call per owner).
    for entry, order in (*((entry, "chronological") for entry in "abc"), ("a", "ranked"), ("c", "ranked")):
        before = {name: rpc_figures(url) for name, url in cluster.urls.items()}
        answer = dan.call(entry, "GET", f"/api/v1/feed?order={order}")
        after = {name: rpc_figures(url) for name, url in cluster.urls.items()}
        assert answer.status_code == 200, answer.text
        received = {name: after[name][0] - before[name][0] for name in cluster.urls}
        expected = Counter({"PostsService.load_owned": 1, **({"Counters.get_many": 1} if order == "ranked" else {})})
        assert received["b"] == received["c"] == expected, (entry, order, received)
        # a gets the page itself from the others (with the token's check), and no more.
        assert received["a"] == (Counter() if entry == "a" else
                                 Counter({"FeedService.page": 1, "AccountsService.authenticate": 1})), (entry, received)
        assert after["a"][1] - before["a"][1] == sum(expected.values()) * 2  # one HTTP request for each call

        page = answer.json()["items"]
        shown = {item["id"]: item for item in page}
        assert shown.keys() == set(posts.values())
        assert [shown[posts[o]]["liked"] for o in "abc"] == [False, True, False]
        assert [shown[posts[o]]["saved"] for o in "abc"] == [False, False, True]
        assert shown[posts["b"]]["like_count"] == 1
        assert all(item["mentions"] == [ann.name, ben.name, cat.name] for item in page), page


def rpc_figures(url: str) -> tuple[Counter, float]:
    """(calls run there by procedure's class and method, RPC HTTP requests it sent), off /metrics."""
    text = httpx.get(url + "/metrics").text
    received = Counter()
    for procedure, value in re.findall(r'instamini_rpc_server_calls_total\{outcome="ok",procedure="([^"]+)"\} (\S+)', text):
        received[".".join(procedure.split(".")[-2:])] += int(float(value))
    sent = sum(float(value) for value in re.findall(r"instamini_rpc_client_requests_total\{[^}]*\} (\S+)", text))
    return received, sent
