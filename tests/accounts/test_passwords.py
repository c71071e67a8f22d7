"""Password hashing: argon2id with the OWASP minimum by default, verification, rehashing."""

from __future__ import annotations

from instamini.accounts.passwords import Passwords
from instamini.accounts.service import token_hash
from instamini.config import Config
from tests.accounts.helpers import read, state_of, write


def passwords_from(accounts) -> Passwords:
    return Passwords(
        time_cost=accounts.argon2_time_cost,
        memory_kib=accounts.argon2_memory_kib,
        parallelism=accounts.argon2_parallelism,
        max_concurrent=accounts.max_concurrent_hashes,
    )


async def test_default_config_hashes_with_argon2id_owasp_parameters():
    passwords = passwords_from(Config().accounts)
    hashed = await passwords.hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), hashed
    assert await passwords.verify(hashed, "correct horse") is True
    assert await passwords.verify(hashed, "correct horsE") is False
    assert await passwords.verify(hashed, "") is False
    assert passwords.needs_rehash(hashed) is False


async def test_hashes_are_salted():
    passwords = passwords_from(Config().accounts)
    first, second = await passwords.hash("same password"), await passwords.hash("same password")
    assert first != second
    assert await passwords.verify(first, "same password") and await passwords.verify(second, "same password")


async def test_unknown_user_and_garbage_hash_never_verify():
    passwords = Passwords(time_cost=1, memory_kib=64, parallelism=1, max_concurrent=1)
    assert await passwords.verify(None, "not-a-real-password") is False  # the dummy hash's own password
    assert await passwords.verify(None, "anything") is False
    assert await passwords.verify("not a hash", "anything") is False


async def test_weaker_hash_is_flagged_for_rehash():
    weak = Passwords(time_cost=1, memory_kib=64, parallelism=1, max_concurrent=1)
    strong = passwords_from(Config().accounts)
    hashed = await weak.hash("correct horse")
    assert strong.needs_rehash(hashed) is True
    assert await strong.verify(hashed, "correct horse") is True  # old hashes still log in


async def test_stored_hash_is_argon2id_and_never_the_password(client, alice):
    state = state_of(client)
    (row,) = await read(client, state.meta.shard_for_text("alice"), "SELECT password_hash FROM users WHERE username = 'alice'")
    assert row["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in row["password_hash"]
    # Sessions store only the SHA-256 of the token.
    digest = token_hash(alice.token)
    rows = []
    for shard in range(state.meta.shard_count):
        rows += await read(client, shard, "SELECT token_hash FROM sessions")
    stored = [bytes(r["token_hash"]) for r in rows]
    assert digest in stored
    assert all(alice.token.encode() not in value for value in stored)


async def test_login_upgrades_a_stale_hash(client, alice):
    state = state_of(client)
    shard = state.meta.shard_for_text("alice")
    weaker = Passwords(time_cost=1, memory_kib=32, parallelism=1, max_concurrent=1)
    old_hash = await weaker.hash("correct horse")
    await write(client, shard, lambda conn: conn.execute("UPDATE users SET password_hash = ? WHERE username = 'alice'", (old_hash,)))
    response = await client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
    assert response.status_code == 201, response.text
    (row,) = await read(client, shard, "SELECT password_hash FROM users WHERE username = 'alice'")
    assert row["password_hash"] != old_hash
    assert state.accounts.passwords.needs_rehash(row["password_hash"]) is False
    again = await client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
    assert again.status_code == 201
