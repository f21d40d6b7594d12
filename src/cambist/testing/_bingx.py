"""BingX, simulated: the universal transfers between the account types (balances moved,
history by type with pages), listen keys (created, extended, deleted, expiring) and the user
data stream's handshake and gzip heartbeats. The document gives no user event schema and no
balance endpoint: transfers push nothing, and balances are read from ``ledger`` in tests.
Simulated answers come wrapped in BingX's {code, msg, data} envelope, as BingX sends them.
"""

from __future__ import annotations

import gzip
from decimal import Decimal
from typing import Any, ClassVar

from cambist.testing._exchanges import DEFAULT_API_KEY, LocalExchange
from cambist.testing._http import Refusal
from cambist.testing._text import dumps
from cambist.testing._ws import Route

ACCOUNTS = {
    "FUND": "Funding Account",
    "SFUTURES": "Standard Contract",
    "PFUTURES": "Perpetual Futures",
    "STRADING": "Grid Account",
    "CTRADING": "Copy Trade Account",
}


class BingXExchange(LocalExchange):
    """BingX, simulated: universal transfers, listen keys, the user data stream."""

    id = "bingx"
    _account = "FUND"
    _starting_balances: ClassVar[dict[str, Decimal]] = {"USDT": Decimal("100000")}
    _routes: ClassVar[list[Route]] = [
        Route(
            "user",
            "/market?listenKey={key}",
            "push",
            server_ping="text_server",
            ping_interval=5.0,
            auth="listen_key",
        ),
    ]
    _ws_bases: ClassVar[dict[str, str]] = {"ws": "/market"}
    _codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (200, 100001),
        "bad_key": (200, 100001),
        "no_signature": (200, 100001),
        "bad_signature": (200, 100001),
        "timestamp": (200, 100400),
        "missing": (200, 100400),
        "invalid": (200, 100400),
        "bad_json": (200, 100400),
        "listen_key": (404, 404),
        "not_found": (200, 100400),
        "insufficient": (200, 100202),
    }

    def _refusal(self, refusal: Refusal) -> tuple[int, Any]:
        if refusal.kind == "listen_key":
            return 404, b""  # "http status 404 not find key"
        return super()._refusal(refusal)

    def _fault_body(self, status: int) -> Any:
        return {"code": 100500 if status >= 500 else 100410, "msg": f"HTTP {status}"}

    @staticmethod
    def _data(data: Any) -> dict[str, Any]:
        return {"code": 0, "msg": "", "data": data}

    # -- transfers ---------------------------------------------------------------------

    def _on_wallet__transfer(self, p: dict[str, Any]) -> Any:
        source, _, target = str(p["type"]).partition("_")
        for name in ("asset", "amount"):
            if not p.get(name):
                raise Refusal("missing", name)
        record = self.ledger.transfer(str(p["asset"]), Decimal(str(p["amount"])), source, target)
        return self._data({"tranId": record.id})

    def _on_wallet__list_transfers(self, p: dict[str, Any]) -> Any:
        source, _, target = str(p["type"]).partition("_")
        rows = [
            t
            for t in self.ledger.transfers
            if t.source == source
            and t.target == target
            and t.time >= int(p.get("startTime") or 0)
            and (not p.get("endTime") or t.time <= int(p["endTime"]))
        ]
        size, page = int(p.get("size") or 10), int(p.get("current") or 1)
        shown = list(reversed(rows))[(page - 1) * size : page * size]
        return self._data(
            {
                "total": len(rows),
                "rows": [
                    {
                        "asset": t.asset,
                        "amount": f"{-t.amount if source == 'FUND' else t.amount:.20f}",
                        "type": p["type"],
                        "status": "CONFIRMED",
                        "tranId": t.id,
                        "timestamp": t.time,
                    }
                    for t in shown
                ],
            }
        )

    # -- listen keys and the user stream -----------------------------------------------

    def _on_user_stream__create_listen_key(self, p: dict[str, Any]) -> Any:
        return {"listenKey": self._new_listen_key(DEFAULT_API_KEY)}

    def _on_user_stream__extend_listen_key(self, p: dict[str, Any]) -> Any:
        self._extend_listen_key(str(p["listenKey"]))
        return b""

    def _on_user_stream__delete_listen_key(self, p: dict[str, Any]) -> Any:
        if self.listen_keys.pop(str(p["listenKey"]), None) is None:
            raise Refusal("listen_key")
        return b""

    def push_user(self, event: Any) -> None:
        """Push a user data event (gzip-compressed, as BingX sends every frame)."""
        self.streams.send_raw(gzip.compress(dumps(event).encode()), route="user")
