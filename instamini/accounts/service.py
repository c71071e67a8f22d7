"""Accounts and sessions: registration, login, tokens, profiles (no HTTP in here).

Where things live: a user, and the reservation of their username, on the shard
that the username's hash picks (so registering is one transaction on one shard);
a session on the user's shard too, which the token names: a token is
`<shard>.<256 random bits>`, given to the client once; only its SHA-256 is stored, so
a copy of the database holds no usable token. So in a cluster a session is checked by
the user's own instance, and while another instance is down every user it does not
own can still log in and be recognised. (Tokens from before the prefix, with no `.`,
have their rows on the shard their hash picks, and keep working until they expire.)

The hot reads (token -> user, username -> id, id -> user) are served from the
LMDB cache; a miss costs one SQLite query and fills the cache.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from ..cluster.forward import owned, owned_batch
from ..config import AccountsConfig
from ..errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, RateLimited
from ..ids import IdGenerator, group_by_shard, shard_of
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.meta import ShardedMeta
from .passwords import Passwords
from ..sliding_window import SlidingWindowLimiter
from .ratelimit import KnownAddresses

# Names that the web app's pages use, so that /explore is never a person.
RESERVED_USERNAMES = frozenset(
    "about accounts admin api direct edge explore healthz help instamini login logout media me metrics "
    "notifications p reels schema search settings signup static stories system tags u web ws".split()
)
USER_COLUMNS = "id, username, display_name, bio, private, avatar_media_id, avatar_url"


class UserRecord(msgspec.Struct, array_like=True):
    """A user as cached (array_like: compact msgpack, no field names stored)."""

    id: int
    username: str
    display_name: str
    bio: str
    private: bool
    avatar_media_id: int | None
    avatar_url: str | None = None  # last, with a default: entries cached before it still decode


class SessionRecord(msgspec.Struct, array_like=True):
    user_id: int
    expires_at: int


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token(user_id: int) -> str:
    """`<the user's shard>.<256 random bits>`: the prefix says where the session row lives."""
    return f"{shard_of(user_id)}.{secrets.token_urlsafe(32)}"


def shard_named_by(token: str) -> int | None:
    """The shard a token's prefix names (any number of up to 5 digits), or None if it has none."""
    prefix, dot, _ = token.partition(".")
    return int(prefix) if dot and prefix.isdigit() and len(prefix) <= 5 else None


def check_username(name: str) -> str:
    """The canonical (lower-case) username, or InvalidInput saying what is wrong."""
    name = name.lower()
    if name.startswith(".") or name.endswith("."):
        raise InvalidInput("username cannot start or end with '.'")
    if ".." in name:
        raise InvalidInput("username cannot contain '..'")
    if name in RESERVED_USERNAMES:
        raise InvalidInput(f"username '{name}' is reserved")
    return name


def _record(row: sqlite3.Row) -> UserRecord:
    return UserRecord(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        bio=row["bio"],
        private=bool(row["private"]),
        avatar_media_id=row["avatar_media_id"],
        avatar_url=row["avatar_url"],
    )


class AccountsService:
    def __init__(
        self,
        meta: ShardedMeta,
        cache: CacheBackend,
        ids: IdGenerator,
        config: AccountsConfig,
        emit: Callable[..., None],
    ) -> None:
        self.meta, self.ids, self.config, self.emit = meta, ids, config, emit
        self.users: CacheTable[UserRecord] = CacheTable(cache, "users", UserRecord)
        self.usernames: CacheTable[int] = CacheTable(cache, "usernames", int)
        # id -> username, for any user, this instance's or not: see usernames_of.
        self.names_by_id: CacheTable[str] = CacheTable(cache, "names_by_id", str)
        self.sessions: CacheTable[SessionRecord] = CacheTable(cache, "sessions", SessionRecord)
        self.passwords = Passwords(
            time_cost=config.argon2_time_cost,
            memory_kib=config.argon2_memory_kib,
            parallelism=config.argon2_parallelism,
            max_concurrent=config.max_concurrent_hashes,
            max_waiting=config.max_waiting_hashes,
        )
        self.login_failures = SlidingWindowLimiter(config.login_attempts_per_account, config.login_window_seconds)
        self.known_addresses = KnownAddresses(config.login_known_address_days * 86_400)
        # Set by the media module: `check(conn, user_id, media_id)` raises unless the id
        # names a ready image of the user's. Without media, no id can be an avatar.
        self.avatar_check: Callable[[sqlite3.Connection, int, int], None] | None = None
        # Called with (user_id, token digest) right after a logout commits: the realtime
        # module closes the sockets opened with that session.
        self.on_logout: list[Callable[[int, bytes], None]] = []
        # Each is asked about a user at login and on every authenticated request; a
        # string is the reason to refuse them (the moderation module: suspended).
        self.refuse_login: list[Callable[[int], str | None]] = []
        # The cluster node when this instance is one of several (cluster/forward.py): each
        # method marked @owned runs on the instance that owns its shard.
        self.cluster = None

    # -- registration and sessions ---------------------------------------------------

    @owned(lambda self, username, *_: self.meta.shard_for_text(username.lower()))
    async def register(self, username: str, password: str, display_name: str = "") -> tuple[UserRecord, str]:
        name = check_username(username)
        shard = self.meta.shard_for_text(name)
        user_id = self.ids.next_id(shard)
        with self.passwords.admission():
            password_hash = await self.passwords.hash(password)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO usernames (username, user_id) VALUES (?, ?)", (name, user_id))
            conn.execute(
                "INSERT INTO users (id, username, display_name, password_hash) VALUES (?, ?, ?, ?)",
                (user_id, name, display_name, password_hash),
            )

        try:
            await self.meta.write(shard, insert)
        except sqlite3.IntegrityError:
            raise Conflict(f"username '{name}' is taken") from None
        user = UserRecord(id=user_id, username=name, display_name=display_name, bio="", private=False, avatar_media_id=None)
        self.users.put(user_id, user)
        self.usernames.put(name, user_id)
        self.names_by_id.put(user_id, name)
        token = await self._new_session(user_id)
        self.emit("account.registered", user_id=user_id, username=name)
        return user, token

    @owned(lambda self, username, *_: self.meta.shard_for_text(username.lower()))
    async def login(self, username: str, password: str, address: str = "") -> tuple[UserRecord, str]:
        """`address` is the client's (empty if unknown): one this account logged in from has its
        own failure window, so that guesses from elsewhere cannot lock the owner out (ratelimit.py)."""
        name = username.lower()
        window = self.known_addresses.failure_key(name, address)
        wait = self.login_failures.retry_after(window)
        if wait is not None:
            raise RateLimited(f"too many failed logins for '{name}'; try again in {wait} s", wait)
        with self.passwords.admission():  # a full hashing queue is a 503 now, before anything is counted
            # Counted as a failure before the (slow) check, so that guesses sent in parallel cannot
            # all pass the limit above before any of them is counted; a right password resets it.
            self.login_failures.record(window)
            row = await self.meta.read_one(
                self.meta.shard_for_text(name), f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?", (name,)
            )
            matches = await self.passwords.verify(row["password_hash"] if row else None, password)
        if not matches or row is None:
            raise NotAuthenticated("wrong username or password")
        self.login_failures.reset(window)
        self.known_addresses.remember(name, address)
        user = _record(row)
        if reason := self._refusal(user.id):
            raise Forbidden(reason)
        if self.passwords.needs_rehash(row["password_hash"]):
            await self._set_password_hash(user.id, await self.passwords.hash(password))
        return user, await self._new_session(user.id)

    async def _set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self.meta.write(
            shard_of(user_id),
            lambda conn: conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)),
        )

    async def _new_session(self, user_id: int) -> str:
        token = new_token(user_id)
        await self._store_session(token_hash(token), user_id)
        self.emit("session.created", user_id=user_id)
        return token

    @owned(lambda self, digest, user_id: shard_of(user_id))
    async def _store_session(self, digest: bytes, user_id: int) -> None:
        # A session row lives on the user's shard: the one its token's prefix names.
        now = int(time.time())
        expires_at = now + self.config.session_days * 86400
        await self.meta.write(
            shard_of(user_id),
            lambda conn: conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (digest, user_id, now, expires_at),
            ),
        )
        self.sessions.put(digest, SessionRecord(user_id, expires_at))

    def _session_shard(self, token: str) -> int:
        """Where a token's session row is: the shard its prefix names; for a token from before
        prefixes (no `.`), the one its hash picks; -1 if no shard could hold it."""
        if "." not in token:
            return int.from_bytes(token_hash(token)[:8], "big") % self.meta.shard_count
        shard = shard_named_by(token)
        return shard if shard is not None and shard < self.meta.shard_count else -1

    @owned(lambda self, token: self._session_shard(token))
    async def authenticate(self, token: str) -> int:
        """The user id that a bearer token belongs to, or NotAuthenticated."""
        digest = token_hash(token)
        session = self.sessions.get(digest)
        if session is None:
            shard = self._session_shard(token)
            if shard < 0:
                raise NotAuthenticated("invalid or revoked token")
            generation = self.sessions.generation()
            row = await self.meta.read_one(
                shard, "SELECT user_id, expires_at FROM sessions WHERE token_hash = ?", (digest,)
            )
            if row is None:
                raise NotAuthenticated("invalid or revoked token")
            session = SessionRecord(row["user_id"], row["expires_at"])
            self.sessions.fill(digest, session, generation)
        if session.expires_at <= time.time():
            raise NotAuthenticated("session expired; log in again")
        if self.refuse_login and (reason := self._refusal(session.user_id)):
            raise NotAuthenticated(reason)
        return session.user_id

    def _refusal(self, user_id: int) -> str | None:
        return next((reason for check in self.refuse_login if (reason := check(user_id))), None)

    @owned(lambda self, token: self._session_shard(token))
    async def logout(self, token: str) -> None:
        digest = token_hash(token)
        user_id = await self.authenticate(token)
        await self.meta.write(
            self._session_shard(token), lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
        )
        self.sessions.delete(digest)
        for callback in self.on_logout:
            callback(user_id, digest)
        self.emit("session.revoked", user_id=user_id)

    # -- users -----------------------------------------------------------------------

    @owned(lambda self, username: self.meta.shard_for_text(username.lower()))
    async def id_for_username(self, username: str) -> int | None:
        name = username.lower()
        user_id = self.usernames.get(name)
        if user_id is not None:
            return user_id
        generation = self.usernames.generation()
        row = await self.meta.read_one(
            self.meta.shard_for_text(name), "SELECT user_id FROM usernames WHERE username = ?", (name,)
        )
        if row is None:
            return None
        self.usernames.fill(name, row["user_id"], generation)
        return row["user_id"]

    @owned_batch
    async def get_users(self, user_ids: Iterable[int]) -> dict[int, UserRecord]:
        """Users by id, from the cache, with one query per shard for the misses."""
        return await self.users.get_or_load(user_ids, self._load_users)

    async def _load_users(self, user_ids: list[int]) -> dict[int, UserRecord]:
        rows = await self.meta.read_by_shard(
            f"SELECT {USER_COLUMNS} FROM users WHERE id IN ({{ids}})", group_by_shard(user_ids)
        )
        return {row["id"]: _record(row) for row in rows}

    async def usernames_of(self, user_ids: Iterable[int]) -> dict[int, str]:
        """Usernames by id (the @mentions of a post), with no round trip once an id is known.

        A username never changes and an account is never deleted, so an id's name may be
        kept anywhere for good: "names_by_id" is the one cache table that holds other
        owners' users, because it can never go stale. Misses are users' lookups (partial:
        a name on an instance that does not answer is left out, as its user would be)."""
        ids = list(dict.fromkeys(user_ids))
        names, missing = {}, []
        for user_id, name in zip(ids, self.names_by_id.get_many(ids)):
            if name is None:
                missing.append(user_id)
            else:
                names[user_id] = name
        if missing:
            for user_id, user in (await self.get_users(missing, partial=True)).items():
                names[user_id] = user.username
                self.names_by_id.put(user_id, user.username)
        return names

    def remember_username(self, user_id: int, username: str) -> None:
        """Learnt elsewhere (a mention resolved by name): kept for usernames_of."""
        self.names_by_id.put(user_id, username)

    async def get_user(self, user_id: int) -> UserRecord | None:
        return (await self.get_users([user_id])).get(user_id)

    async def by_username(self, username: str) -> UserRecord:
        user_id = await self.id_for_username(username)
        user = await self.get_user(user_id) if user_id is not None else None
        if user is None:
            raise NotFound(f"no user '{username.lower()}'")
        return user

    @owned(lambda self, user_id, changes: shard_of(user_id))
    async def update(self, user_id: int, changes: dict[str, Any]) -> UserRecord:
        """Edit profile fields; `changes` holds only the fields the caller sent."""
        avatar = changes.get("avatar_media_id")
        if avatar is not None and self.avatar_check is None:
            raise InvalidInput("avatar_media_id does not name a ready image of yours")
        if not changes:
            return await self.get_user(user_id)

        def apply(conn: sqlite3.Connection) -> sqlite3.Row:
            row_changes = dict(changes)
            if "avatar_media_id" in changes:  # checked in the same transaction: the image cannot vanish meanwhile
                row_changes["avatar_url"] = None if avatar is None else self.avatar_check(conn, user_id, avatar)
            columns = ", ".join(f"{column} = ?" for column in row_changes)
            conn.execute(f"UPDATE users SET {columns} WHERE id = ?", (*row_changes.values(), user_id))
            return conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()

        user = _record(await self.meta.write(shard_of(user_id), apply))
        self.users.put(user_id, user)
        self.emit("account.updated", user_id=user_id, fields=sorted(changes))
        return user
