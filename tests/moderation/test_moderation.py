"""Moderation: admin creation, the admin guard, reports, resolving, suspensions."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.moderation.admin_cli import create_admin
from tests.conftest import User, register
from tests.posts.helpers import make_post

REPORTS = "/api/v1/reports"
ADMIN = "/api/v1/admin"


async def login(client, username: str) -> User:
    response = await client.post("/api/v1/sessions", json={"username": username, "password": "correct horse"})
    assert response.status_code == 201, response.text
    body = response.json()
    return User(username, body["token"], body["account"])


async def admin_client(config):
    assert await create_admin(config, "root", "correct horse") == 0
    return AsyncTestClient(create_app(config))


async def test_admin_create_and_guard(config):
    assert await create_admin(config, "root", "correct horse") == 0
    assert await create_admin(config, "root", "other password") == 1  # taken
    assert await create_admin(config, "short", "pw") == 1  # the HTTP rules: password too short
    async with AsyncTestClient(create_app(config)) as client:
        root = await login(client, "root")
        alice = await register(client, "alice")
        assert (await client.get(f"{ADMIN}/reports")).status_code == 401
        assert (await client.get(f"{ADMIN}/reports", headers=alice.headers)).status_code == 403
        response = await client.get(f"{ADMIN}/reports", headers=root.headers)
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


async def test_reports_and_resolution(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        post = await make_post(client, alice, caption="spam")
        body = {"kind": "post", "target_id": post["id"], "reason": "spam"}
        first = await client.post(REPORTS, json=body, headers=bob.headers)
        assert first.status_code == 201, first.text
        again = await client.post(REPORTS, json=body, headers=bob.headers)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        missing = await client.post(REPORTS, json={**body, "target_id": "12345"}, headers=bob.headers)
        assert missing.status_code == 404
        too_long = await client.post(REPORTS, json={**body, "reason": "x" * 501}, headers=bob.headers)
        assert too_long.status_code == 400
        assert (await client.post(REPORTS, json=body)).status_code == 401

        account = await client.post(
            REPORTS, json={"kind": "account", "target_id": alice.id, "reason": "rude"}, headers=bob.headers
        )
        assert account.status_code == 201
        listed = (await client.get(f"{ADMIN}/reports", params={"status": "open", "limit": 1}, headers=root.headers)).json()
        assert [r["id"] for r in listed["items"]] == [account.json()["id"]] and listed["next_cursor"]
        rest = await client.get(f"{ADMIN}/reports", params={"cursor": listed["next_cursor"]}, headers=root.headers)
        assert [r["id"] for r in rest.json()["items"]] == [first.json()["id"]]

        dismissed = await client.post(
            f"{ADMIN}/reports/{account.json()['id']}/resolve", json={"action": "dismiss"}, headers=root.headers
        )
        assert dismissed.status_code == 200 and dismissed.json()["status"] == "resolved"
        removed = await client.post(
            f"{ADMIN}/reports/{first.json()['id']}/resolve", json={"action": "remove"}, headers=root.headers
        )
        assert removed.status_code == 200, removed.text
        assert (await client.get(f"/api/v1/posts/{post['id']}", headers=alice.headers)).status_code == 404
        twice = await client.post(
            f"{ADMIN}/reports/{first.json()['id']}/resolve", json={"action": "dismiss"}, headers=root.headers
        )
        assert twice.status_code == 409
        # Resolved: a new report of the same target is a new one.
        assert (await client.post(REPORTS, json={**body, "kind": "account", "target_id": alice.id},
                                  headers=bob.headers)).status_code == 201


async def test_comment_report_removed(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        post = await make_post(client, alice)
        comment = (await client.post(f"/api/v1/posts/{post['id']}/comments", json={"text": "meh"},
                                     headers=bob.headers)).json()
        report = await client.post(REPORTS, json={"kind": "comment", "target_id": comment["id"]}, headers=alice.headers)
        assert report.status_code == 201, report.text
        resolved = await client.post(
            f"{ADMIN}/reports/{report.json()['id']}/resolve", json={"action": "remove"}, headers=root.headers
        )
        assert resolved.status_code == 200, resolved.text
        comments = (await client.get(f"/api/v1/posts/{post['id']}/comments", headers=alice.headers)).json()
        assert comments["items"] == []


async def test_suspension_hides_and_refuses(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        assert (await client.post("/api/v1/users/alice/follow", headers=bob.headers)).status_code == 200
        post = await make_post(client, alice)
        report = await client.post(REPORTS, json={"kind": "post", "target_id": post["id"]}, headers=bob.headers)
        # Warm the caches first: the hot paths must check too.
        assert (await client.get("/api/v1/users/alice", headers=bob.headers)).status_code == 200
        feed = "/api/v1/feed?order=chronological"
        assert [p["id"] for p in (await client.get(feed, headers=bob.headers)).json()["items"]] == [post["id"]]
        resolved = await client.post(
            f"{ADMIN}/reports/{report.json()['id']}/resolve", json={"action": "suspend"}, headers=root.headers
        )
        assert resolved.status_code == 200, resolved.text

        assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 401
        refused = await client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
        assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
        assert (await client.get("/api/v1/users/alice", headers=bob.headers)).status_code == 404
        assert (await client.get("/api/v1/users/alice")).status_code == 404
        assert (await client.get("/api/v1/users/alice/posts", headers=bob.headers)).status_code == 404
        assert (await client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)).status_code == 404
        assert (await client.get(feed, headers=bob.headers)).json()["items"] == []  # gone from feeds too

        assert (await client.post(f"{ADMIN}/users/alice/unsuspend", headers=bob.headers)).status_code == 403
        assert (await client.post(f"{ADMIN}/users/alice/unsuspend", headers=root.headers)).status_code == 200
        assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
        assert (await client.get("/api/v1/users/alice", headers=bob.headers)).status_code == 200
        assert (await client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)).status_code == 200
        await login(client, "alice")

        assert (await client.post(f"{ADMIN}/users/bob/suspend", headers=root.headers)).status_code == 200
        assert (await client.get("/api/v1/me", headers=bob.headers)).status_code == 401
        assert (await client.post(f"{ADMIN}/users/nobody/suspend", headers=root.headers)).status_code == 404


async def test_suspension_survives_restart(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice = await register(client, "alice")
        assert (await client.post(f"{ADMIN}/users/alice/suspend", headers=root.headers)).status_code == 200
    async with AsyncTestClient(create_app(config)) as client:
        assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 401
        assert (await client.get("/api/v1/users/alice")).status_code == 404


async def test_reporting_an_account_that_blocks_you_is_reporting_a_missing_one(client, alice, bob):
    """Found by tests/reliability: the answer named the blocker ("no user 'alice'") where a
    missing account gets "no account <id>", so it told bob whom the id belongs to."""
    assert (await client.post("/api/v1/users/bob/block", headers=alice.headers)).status_code == 200
    missing = str(int(alice.id) - (3_600_000 << 23))  # same length and shard, made before anyone
    blocker = await client.post(REPORTS, json={"kind": "account", "target_id": alice.id}, headers=bob.headers)
    nobody = await client.post(REPORTS, json={"kind": "account", "target_id": missing}, headers=bob.headers)
    assert blocker.status_code == nobody.status_code == 404
    assert blocker.text.replace(alice.id, "ID") == nobody.text.replace(missing, "ID")
    assert "alice" not in blocker.text


async def test_an_overlong_target_id_is_bad_input(client, alice):
    """Found by tests/reliability/test_request_limits.py: target_id had no maximum length."""
    response = await client.post(REPORTS, json={"kind": "post", "target_id": "1" * 21}, headers=alice.headers)
    assert response.status_code == 400 and "target_id" in response.json()["detail"], response.text
