"""Binance Options (eapi), simulated: every request checked (key, signature, recvWindow,
params), the server time, and New Order on the shared engine: limit orders against a
synthetic book of the document's option symbol, premiums paid in USDT. The document has no
query, cancel or account endpoint, so tests read orders and balances from ``ledger``.
Buying pays the premium; selling needs contracts held (writing options is not simulated).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from cambist.testing._exchanges import LocalExchange
from cambist.testing._http import Refusal
from cambist.testing._ledger import Order
from cambist.testing._text import fmt

STATUS = {"NEW": "ACCEPTED", "CANCELED": "CANCELLED", "PARTIALLY_CANCELED": "CANCELLED"}


class BinanceOptionsExchange(LocalExchange):
    """Binance Options (eapi): checks, server time, New Order (ACK and RESULT answers)."""

    id = "binance_options"
    symbols: ClassVar[dict[str, Decimal]] = {"BTC-220815-50000-C": Decimal("1000.00")}
    starting_balances: ClassVar[dict[str, Decimal]] = {"USDT": Decimal("100000")}
    account = "options"
    codes: ClassVar[dict[str, tuple[int, object]]] = {
        "no_key": (401, -2014),
        "bad_key": (401, -2015),
        "no_signature": (400, -1102),
        "bad_signature": (400, -1022),
        "timestamp": (400, -1021),
        "missing": (400, -1102),
        "invalid": (400, -1130),
        "bad_json": (400, -1130),
        "not_found": (400, -2013),
        "insufficient": (400, -2018),
    }

    def split(self, symbol: str) -> tuple[str, str]:
        return symbol, "USDT"

    def on_market__get_server_time(self, p: dict[str, Any]) -> Any:
        return {"serverTime": self.now_ms()}

    def on_trade__create_order(self, p: dict[str, Any]) -> Any:
        symbol = self._symbol(p)
        client_id = str(p.get("clientOrderId") or "")
        if client_id and any(
            o.client_id == client_id and o.open for o in self.ledger.orders.values()
        ):
            raise Refusal("invalid", "clientOrderId (repeated in pending orders)")
        order = self.ledger.place(
            account=self.account,
            symbol=symbol,
            base=symbol,
            quote="USDT",
            side=str(p["side"]),
            kind="LIMIT",
            quantity=Decimal(str(p["quantity"])),
            price=Decimal(str(p["price"])),
            tif=str(p.get("timeInForce") or "GTC"),
            post_only=str(p.get("postOnly")).lower() == "true",
            client_id=client_id,
        )
        return self._answer(order, p)

    def _answer(self, o: Order, p: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "orderId": int(o.id),
            "symbol": o.symbol,
            "price": fmt(o.price),
            "quantity": fmt(o.quantity),
            "side": o.side,
            "type": o.kind,
            "reduceOnly": str(p.get("reduceOnly")).lower() == "true",
            "postOnly": o.post_only,
            "mmp": str(p.get("isMmp")).lower() == "true",
        }
        if p.get("newOrderRespType") != "RESULT":
            return {**out, "createDate": o.created}
        return {
            **out,
            "executedQty": fmt(o.executed),
            "fee": fmt(o.fees),
            "timeInForce": o.tif,
            "createTime": o.created,
            "updateTime": o.updated,
            "status": STATUS.get(o.status, o.status),
            "avgPrice": fmt(o.average_price),
            "source": "API",
            "clientOrderId": o.client_id,
            "priceScale": 2,
            "quantityScale": 2,
            "optionSide": "CALL" if o.symbol.endswith("-C") else "PUT",
            "quoteAsset": "USDT",
        }
