"""Failed-login limiting per account: a sliding window of recent failures.

Litestar's rate-limit middleware limits requests per client address; it cannot
see which account a request is aimed at (that is in the body). Guessing one
account's password from many addresses is stopped here (sliding_window.py): after
`login_attempts_per_account` failures within `window_seconds`, that account refuses logins until the oldest
failure leaves the window. A correct password resets the count.

An attacker could keep that lock shut forever (a few wrong guesses per window), and
lock the real owner out with it. So an address from which the account logged in
successfully (`KnownAddresses`, for `days`) is not counted with the rest: it has a
window of its own under the same limit. The owner logs in from their usual address
during an attack; from a new address they wait like everyone, until the attack's
failures leave the window (the 429 says how long). An attacker who shares the
owner's address gets that address's window, no more. Addresses are remembered in
memory only: after a restart every address is new again.

Cost: a deque of timestamps per account with recent failures, an entry per
(account, address) that logged in; both maps are pruned when they grow, so a flood
of made-up usernames or addresses cannot grow memory without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable



class KnownAddresses:
    """(account, address) pairs that logged in successfully within `ttl_seconds`; the oldest
    are forgotten first when there are more than `max_keys`."""

    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.ttl, self.clock, self.max_keys = ttl_seconds, clock, max_keys
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # oldest success first

    def remember(self, account: str, address: str) -> None:
        if not address:  # an unknown caller (a direct service call) earns no trust
            return
        key = (account, address)
        self._seen[key] = self.clock()
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)

    def knows(self, account: str, address: str) -> bool:
        seen = self._seen.get((account, address))
        if seen is None:
            return False
        if seen + self.ttl <= self.clock():
            del self._seen[(account, address)]
            return False
        return True

    def failure_key(self, account: str, address: str) -> str:
        """Which failure window a login counts in: its own for a known address, else the account's."""
        return f"{account}\0{address}" if self.knows(account, address) else account
