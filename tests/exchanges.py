"""What the cross-exchange tests need to know about each exchange."""

from __future__ import annotations

import hashlib
import hmac
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cambist._runtime.endpoint import Endpoint, Exchange
from tests.loopback import Received

SPECS = Path(__file__).resolve().parent.parent / "specs"


@dataclass(frozen=True)
class Case:
    id: str
    client: str
    count: int  # endpoints the document specifies

    def module(self) -> Any:
        return importlib.import_module(f"cambist.{self.id}")

    def endpoints(self) -> tuple[Endpoint[Any], ...]:
        return tuple(self.module().ENDPOINTS)

    def exchange(self) -> Exchange:
        return importlib.import_module(f"cambist.{self.id}._config").EXCHANGE  # type: ignore[no-any-return]

    def sync(self, url: str, **options: Any) -> Any:
        from tests.conftest import API_KEY, API_SECRET

        cls = getattr(self.module(), self.client)
        return cls(api_key=API_KEY, api_secret=API_SECRET, base_url=url, **options)

    def async_(self, url: str, **options: Any) -> Any:
        from tests.conftest import API_KEY, API_SECRET

        cls = getattr(self.module(), "Async" + self.client)
        return cls(api_key=API_KEY, api_secret=API_SECRET, base_url=url, **options)

    def sample(self, ep: Endpoint[Any]) -> bytes:
        """The document's example answer for ``ep`` (specs/<exchange>/examples/), as raw bytes."""
        if self.id == "hashkey":
            import json

            from tests.conftest import hashkey_example

            return json.dumps(hashkey_example(ep.method, ep.path), default=str).encode()
        name = f"{ep.method}_{ep.path.strip('/').replace('/', '_')}.json"
        return (SPECS / self.id / "examples" / name).read_bytes()


EXCHANGES = [
    Case("hashkey", "HashKey", 41),
    Case("bingx", "BingX", 8),
    Case("bibox", "Bibox", 14),
    Case("binance_options", "BinanceOptions", 48),
]


def _hmac(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def verify(exchange: Exchange, received: Received, secret: str) -> bool:
    """Check a request's signature independently of the client's code."""
    if exchange.auth_scheme == "hmac_body_header":
        payload = received.query.encode() if received.method == "GET" else received.body
        sent = received.headers.get((exchange.signature_header or "").lower(), "")
        return hmac.compare_digest(_hmac(secret, payload), sent)
    param = f"{exchange.signature_param}="
    query, body = received.query, received.body
    if param in query:
        query, _, signature = query.rpartition(param)
        query = query.removesuffix("&")
    else:
        text, _, signature = body.decode().rpartition(param)
        body = text.removesuffix("&").encode()
    return hmac.compare_digest(_hmac(secret, query.encode() + body), signature)
