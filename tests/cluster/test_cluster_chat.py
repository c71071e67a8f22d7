"""Direct messages and notifications across a real two-instance cluster (`LocalCluster`).

alice lives on instance a and bob on b. alice acts through a and bob's phone holds its
websocket on b (alice's on a), so the thread (alice's shard) is a's, bob's copy of it in
his thread list and his notifications are b's, and every frame that reaches a socket
was sent on the other instance and crossed through the hub's forwarding. One test runs
in-process instead: how the notifications worker splits a round of writes by owner.
"""

from __future__ import annotations

import json
import time

import anyio
from websockets.asyncio.client import connect

from instamini.ids import IdGenerator
from tests.accounts.helpers import in_app
from tests.cluster.conftest import instance_a  # noqa: F401 (fixture)
from tests.cluster.harness import Person, holders, name_owned_by, session_owner, two_instances

cluster = two_instances()
THREADS = "/api/v1/threads"
OUTBOX = "SELECT 1 FROM messages_outbox"


class Frames:
    """A websocket's frames, read as they come and kept until a test asks for them."""

    def __init__(self, socket) -> None:
        self.socket, self.kept = socket, []

    async def next(self, kind: str, timeout: float = 15.0, message_id: str | None = None, **fields) -> dict:
        """The first frame of this type with these top-level fields (and carrying this message),
        waiting for it if need be."""

        def wanted(frame: dict) -> bool:
            if message_id is not None and frame.get("message", {}).get("id") != message_id:
                return False
            return frame["type"] == kind and all(frame.get(key) == value for key, value in fields.items())

        with anyio.fail_after(timeout):
            while True:
                for frame in self.kept:
                    if wanted(frame):
                        self.kept.remove(frame)
                        return frame
                self.kept.append(json.loads(await self.socket.recv()))

    async def round_trip(self) -> None:
        """A ping answered: the hub holds this socket, and what was queued before has come."""
        await self.socket.send('{"type": "ping"}')
        await self.next("pong")


def ws_url(cluster, instance: str) -> str:
    return cluster.urls[instance].replace("http://", "ws://") + "/ws"


def bearer(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def eventually(check, timeout: float = 20.0):
    """Poll another process until `check()` is true (it works in the background); its last value."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


async def test_a_direct_message_crosses_instances_live_with_receipts_unread_counts_and_notifications(cluster):
    alice = Person(cluster, name_owned_by("a", "alice"))
    bob = Person(cluster, name_owned_by("b", "bob"))
    async with (
        connect(ws_url(cluster, "b"), additional_headers=bearer(bob)) as bob_socket,
        connect(ws_url(cluster, "a"), additional_headers=bearer(alice)) as alice_socket,
    ):
        phone, laptop = Frames(bob_socket), Frames(alice_socket)
        for frames in (phone, laptop):
            await frames.round_trip()

        started = alice.on("a").post(THREADS, json={"usernames": [bob.username]})
        assert started.status_code == 201, started.text
        thread_id = started.json()["id"]
        assert holders(cluster, "SELECT id FROM threads", int(thread_id)) == ["a"]
        again = bob.on("b").post(THREADS, json={"usernames": [alice.username]})  # from the other side
        assert again.status_code == 200 and again.json()["id"] == thread_id, again.text

        sent = alice.on("a").post(f"{THREADS}/{thread_id}/messages", json={"text": "hi from a"})
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["id"]
        pushed = await phone.next("message", thread_id=thread_id)
        assert pushed["message"]["id"] == message_id and pushed["message"]["sender"]["username"] == alice.username

        assert holders(cluster, "SELECT id FROM messages", int(message_id)) == ["a"]
        assert holders(cluster, "SELECT user_id FROM user_threads", int(bob.id)) == ["b"]
        assert holders(cluster, "SELECT user_id FROM user_threads", int(alice.id)) == ["a"]
        assert holders(cluster, OUTBOX, 1) == []
        for instance in "ab":  # bob does not follow alice: a request, unread, read through either
            history = bob.on(instance).get(f"{THREADS}/{thread_id}/messages").json()
            assert [item["text"] for item in history["items"]] == ["hi from a"]
            requests = bob.on(instance).get(THREADS, params={"folder": "requests"}).json()["items"]
            assert [(item["id"], item["unread_count"]) for item in requests] == [(thread_id, 1)]
            assert bob.on(instance).get(THREADS).json()["items"] == []

        notified = await phone.next("notification")
        assert notified["notification"]["kind"] == "message" and notified["unread"] == 1
        assert holders(cluster, "SELECT user_id FROM notifications", int(bob.id)) == ["b"]
        for instance in "ab":
            assert bob.on(instance).get("/api/v1/notifications/unread").json() == {"unread": 1}
            listed = bob.on(instance).get("/api/v1/notifications").json()
            assert [item["summary"] for item in listed["items"]] == [f"{alice.username} sent you a message"]

        await bob_socket.send(json.dumps({"type": "read", "thread_id": thread_id, "message_id": message_id}))
        receipt = await laptop.next("read", thread_id=thread_id)
        assert receipt["user_id"] == bob.id and receipt["message_id"] == message_id
        for instance in "ab":
            thread = bob.on(instance).get(f"{THREADS}/{thread_id}").json()
            assert thread["unread_count"] == 0
            assert {read["user_id"]: read["message_id"] for read in thread["reads"]}[bob.id] == message_id
        # Reading the thread reads its notification: an event handled on a, written on b.
        assert eventually(lambda: bob.on("a").get("/api/v1/notifications/unread").json()["unread"] == 0)

        await bob_socket.send(json.dumps({"type": "message", "thread_id": thread_id, "text": "hi back", "client_id": "r1"}))
        ack = await phone.next("ack", client_id="r1")
        reply = await laptop.next("message", thread_id=thread_id, message_id=ack["message"]["id"])
        assert reply["message"]["text"] == "hi back"
        await bob_socket.send(json.dumps({"type": "typing", "thread_id": thread_id}))
        assert (await laptop.next("typing", thread_id=thread_id))["user_id"] == bob.id
        await phone.round_trip()
        assert not [frame for frame in phone.kept if frame["type"] in ("message", "typing")]  # not to his own socket
        for instance in "ab":  # his reply accepted the request
            inbox = bob.on(instance).get(THREADS).json()["items"]
            assert [(item["id"], item["last_message"]["text"]) for item in inbox] == [(thread_id, "hi back")]
            assert alice.on(instance).get(THREADS).json()["items"][0]["unread_count"] == 1

        followed = alice.on("a").post(f"/api/v1/users/{bob.username}/follow")
        assert followed.status_code == 200, followed.text
        follow = await phone.next("notification")
        assert follow["notification"]["kind"] == "follow" and follow["notification"]["actors"][0]["username"] == alice.username
        assert holders(cluster, "SELECT user_id FROM notifications WHERE kind = 'follow'", int(bob.id)) == ["b"]
        assert bob.on("a").get("/api/v1/notifications/unread").json() == {"unread": 1}
        newest = bob.on("a").get("/api/v1/notifications").json()["items"][0]
        assert newest["kind"] == "follow"
        assert bob.on("a").post("/api/v1/notifications/read", json={"cursor": newest["cursor"]}).json() == {"unread": 0}
        assert bob.on("b").get("/api/v1/notifications/unread").json() == {"unread": 0}


def log_in_with_session_on(person: Person, instance: str) -> None:
    """Check that `instance` alone can tell who the person is: their session lives on their
    own shard, whose owner this must be."""
    assert session_owner(person.token) == instance


async def test_while_an_instance_is_down_index_rows_wait_in_the_outbox_and_sockets_stay_open(cluster):
    carol = Person(cluster, name_owned_by("a", "carol"))
    dan, erin = Person(cluster, name_owned_by("b", "dan")), Person(cluster, name_owned_by("b", "erin"))
    log_in_with_session_on(carol, "a")  # so that a alone can tell who she is
    thread_id = carol.on("a").post(THREADS, json={"usernames": [dan.username]}).json()["id"]
    on_b = erin.on("b").post(THREADS, json={"usernames": [carol.username]}).json()["id"]  # a thread b owns
    async with connect(ws_url(cluster, "a"), additional_headers=bearer(carol)) as socket:
        frames = Frames(socket)
        await frames.round_trip()
        cluster.servers["b"].stop()
        try:
            sent = carol.on("a").post(f"{THREADS}/{thread_id}/messages", json={"text": "are you there?"})
            assert sent.status_code == 201, sent.text  # stored: dan's copy of the thread waits
            assert holders(cluster, OUTBOX, 1) == ["a"]
            await socket.send(json.dumps({"type": "message", "thread_id": on_b, "text": "hello b?"}))
            assert (await frames.next("error"))["code"] == "unavailable"
            await frames.round_trip()  # the socket is still open
        finally:
            cluster.servers["b"].start()
    assert eventually(lambda: holders(cluster, OUTBOX, 1) == [])  # a's retry, once b answers
    [request] = dan.on("b").get(THREADS, params={"folder": "requests"}).json()["items"]
    assert request["last_message"]["id"] == sent.json()["id"] and request["unread_count"] == 1


async def test_a_round_of_notification_writes_sends_each_other_owner_one_call_in_event_order(instance_a, monkeypatch):
    state = instance_a.app.state
    calls = []

    async def call(instance, procedure, args, **_):
        calls.append((instance, procedure, args))
        return len(args[0])

    monkeypatch.setattr(state.cluster.client, "call", call)
    ids = IdGenerator()
    here, theirs = ids.next_id(0), [ids.next_id(2), ids.next_id(3)]  # shards 0-1 are a's, 2-3 b's
    events = [("graph.unfollowed", {"follower_id": here, "followee_id": other}) for other in theirs]
    events.append(("post.deleted", {"post_id": ids.next_id(1), "author_id": here}))
    in_app(instance_a, state.notifications._handle, events)  # on the app's loop, where its stores are
    [(instance, procedure, (jobs,))] = calls
    assert instance == "b" and procedure.endswith("NotificationsService.apply_jobs")
    assert [(job.shard, type(job.change).__name__) for job in jobs] == [
        (2, "ForgetActor"), (3, "ForgetActor"), (2, "ForgetAbout"), (3, "ForgetAbout"),
    ]
    assert state.notifications.failed == 0
