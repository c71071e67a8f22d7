"""Who may call the internal RPC: requests signed with the cluster's shared secret.

The idea (the scheme of AWS SigV4 and Stripe's webhooks, cut to what a few trusted
instances need): every request carries

    X-Instamini-Caller      the calling instance's name
    X-Instamini-Timestamp   unix milliseconds when it was signed
    X-Instamini-Nonce       32 random hex digits, never used twice
    X-Instamini-Signature   hex HMAC-SHA256(secret, "instamini-rpc-v1\\n" caller \\n target \\n
                            timestamp \\n nonce \\n method \\n path \\n body)

The target instance's name is signed too, so a request meant for one instance cannot
be replayed against another. The serving instance refuses, before running anything:
a missing or malformed header, a timestamp more than `max_clock_skew_seconds` away
from its own clock (a captured request goes stale), a signature that does not match
(compared in constant time, so its timing says nothing of the right one), and a nonce
already seen. A nonce only has to be remembered while its timestamp is inside the
window, so the set of seen nonces is bounded by the window (about rate x 2 x skew
entries), and a nonce is recorded only once its signature has been checked, so nobody
without the secret can fill it.

Cost: one HMAC over the body on each side (about a microsecond per KB) and one dict
insert plus a heap push per request served.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping

from .topology import NAME

CALLER = "x-instamini-caller"
TIMESTAMP = "x-instamini-timestamp"
NONCE = "x-instamini-nonce"
SIGNATURE = "x-instamini-signature"
_LABEL = b"instamini-rpc-v1"
_HEX = re.compile(r"[0-9a-f]+")  # used with fullmatch, as NAME


class AuthRefused(Exception):
    """The request is not let in: `status_code` (401 or 403) and a `detail` that says why."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code, self.detail = status_code, detail


def sign(secret: bytes, *, caller: str, target: str, timestamp: str, nonce: str, method: str, path: str,
         body: bytes) -> str:
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    # Every field before the body is checked to hold no newline, so the fields cannot shift.
    mac.update(b"\n".join([_LABEL, caller.encode(), target.encode(), timestamp.encode(), nonce.encode(),
                           method.encode(), path.encode(), b""]))
    mac.update(body)
    return mac.hexdigest()


class Signer:
    """The calling side: the four headers for one request."""

    def __init__(self, secret: bytes, caller: str, clock: Callable[[], float] = time.time) -> None:
        self.secret, self.caller, self.clock = secret, caller, clock

    def headers(self, target: str, method: str, path: str, body: bytes, *, timestamp_ms: int | None = None,
                nonce: str | None = None) -> dict[str, str]:
        timestamp = str(timestamp_ms if timestamp_ms is not None else int(self.clock() * 1000))
        nonce = nonce or secrets.token_hex(16)
        signature = sign(self.secret, caller=self.caller, target=target, timestamp=timestamp, nonce=nonce,
                         method=method, path=path, body=body)
        return {CALLER: self.caller, TIMESTAMP: timestamp, NONCE: nonce, SIGNATURE: signature}


class NonceCache:
    """Nonces seen in the window, each kept until its timestamp leaves the window."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, nonce: str, expires_at: float, now: float) -> bool:
        """Remember `nonce`; False if it is already remembered (a replay)."""
        heap = self._heap
        while heap and heap[0][0] < now:
            del self._expiry[heapq.heappop(heap)[1]]
        if nonce in self._expiry:
            return False
        self._expiry[nonce] = expires_at
        heapq.heappush(heap, (expires_at, nonce))
        return True


class Verifier:
    """The serving side: checks the headers of a request addressed to `target` (this instance)."""

    def __init__(self, secret: bytes, max_skew_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.secret, self.max_skew, self.clock = secret, max_skew_seconds, clock
        self.nonces = NonceCache()

    def verify(self, target: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """The caller's name, or AuthRefused. Records the nonce only when everything else holds."""
        values = {}
        for name in (CALLER, TIMESTAMP, NONCE, SIGNATURE):
            value = headers.get(name)
            if not value:
                raise AuthRefused(401, f"missing {name} header: internal RPC requests must be signed")
            values[name] = value
        caller, timestamp, nonce, signature = values[CALLER], values[TIMESTAMP], values[NONCE], values[SIGNATURE]
        if not NAME.fullmatch(caller):
            raise AuthRefused(401, f"{CALLER} is not an instance name")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
            raise AuthRefused(401, f"{TIMESTAMP} must be unix milliseconds")
        if not 16 <= len(nonce) <= 64 or not _HEX.fullmatch(nonce):
            raise AuthRefused(401, f"{NONCE} must be 16 to 64 lowercase hex digits")
        if len(signature) != 64 or not _HEX.fullmatch(signature):
            raise AuthRefused(401, f"{SIGNATURE} must be 64 lowercase hex digits (HMAC-SHA256)")
        now = self.clock()
        signed_at = int(timestamp) / 1000
        if abs(now - signed_at) > self.max_skew:
            raise AuthRefused(
                401, f"stale request: signed {now - signed_at:+.1f} s from this instance's clock "
                     f"(at most {self.max_skew:g} s either way; check the clocks)",
            )
        expected = sign(self.secret, caller=caller, target=target, timestamp=timestamp, nonce=nonce,
                        method=method, path=path, body=body)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise AuthRefused(
                401, "bad signature: wrong secret, a request altered on the way, or one meant for another instance",
            )
        if not self.nonces.add(nonce, signed_at + self.max_skew, now):
            raise AuthRefused(401, "replayed request: this nonce was already used")
        return caller
