"""A minimal signed Binance client for the paper-exchange tests (stdlib only, signs by hand)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

KEY, SECRET = "paperkey1", "papersecret1"
OTHER_KEY, OTHER_SECRET = "paperkey2", "papersecret2"
KEYS = [(KEY, SECRET), (OTHER_KEY, OTHER_SECRET)]


class PaperClient:
    """Sends signed requests the way Binance documents: HMAC-SHA256 hex of query + body."""

    def __init__(self, base: str, key: str = KEY, secret: str = SECRET) -> None:
        self.base, self.key, self.secret = base, key, secret

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                signed: bool = True, body: dict[str, Any] | None = None,
                timestamp: int | None = None, secret: str | None = None,
                key: str | None = None) -> tuple[int, Any]:
        query = dict(params or {})
        if signed:
            stamp = timestamp if timestamp is not None else time.time_ns() // 1_000_000
            (body if body is not None else query)["timestamp"] = stamp
        qs, bs = urlencode(query), urlencode(body or {})
        if signed:
            signature = hmac.new((secret or self.secret).encode(), (qs + bs).encode(),
                                 hashlib.sha256).hexdigest()
            qs = f"{qs}&signature={signature}" if qs else f"signature={signature}"
        headers = {"X-MBX-APIKEY": key if key is not None else self.key}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(f"{self.base}{path}?{qs}", data=bs.encode() if body is not None else None,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def order(self, **params: Any) -> tuple[int, Any]:
        return self.request("POST", "/api/v3/order", {"symbol": "ETHUSDT", **params})

    def balances(self) -> dict[str, tuple[str, str]]:
        status, acct = self.request("GET", "/api/v3/account")
        assert status == 200, acct
        return {b["asset"]: (b["free"], b["locked"]) for b in acct["balances"]}
