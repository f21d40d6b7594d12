"""The generator: golden output for two small fake specs (file by file), their generated
clients type-checked and exercised against a loopback server, determinism, the drift check,
and spec validation errors that name the file and line."""

from __future__ import annotations

import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cambist.errors import InsufficientBalanceError, OrderNotFoundError, RequestValidationError
from codegen.__main__ import build
from codegen.schema import SpecError
from codegen.spec import load_all, snake
from tests.conftest import API_KEY, API_SECRET
from tests.exchanges import verify
from tests.loopback import LoopbackServer, Received, Reply

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


GOLDEN_EXCHANGES = ["fakex", "fakey"]
"""fakex: hmac_params signing, form and JSON bodies, rows, a stream. fakey: hmac_body_header
signing, JSON-number decimals, a required {code, msg, data} envelope, an example answer."""


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden specs, generated once for this module: ``<root>/cambist/<exchange>``."""
    out = tmp_path_factory.mktemp("golden")
    build(GOLDEN, out)
    return out


@pytest.fixture
def golden_importable(golden: Path) -> Iterator[None]:
    """``cambist.fakex`` and ``cambist.fakey`` importable from the fresh build: ``cambist`` is
    a namespace package, so a folder on sys.path with a ``cambist/`` merges into it."""
    sys.path.insert(0, str(golden))
    try:
        yield
    finally:
        sys.path.remove(str(golden))
        packages = {f"cambist.{name}" for name in GOLDEN_EXCHANGES}
        for module in [m for m in sys.modules if ".".join(m.split(".")[:2]) in packages]:
            del sys.modules[module]


def test_the_golden_exchanges(golden: Path) -> None:
    def folders(path: Path) -> list[str]:
        return sorted(p.name for p in path.iterdir() if p.is_dir())

    assert folders(GOLDEN / "specs") == GOLDEN_EXCHANGES
    assert folders(golden / "cambist") == GOLDEN_EXCHANGES
    assert folders(GOLDEN / "expected") == GOLDEN_EXCHANGES


@pytest.mark.parametrize("exchange", GOLDEN_EXCHANGES)
def test_golden_output(golden: Path, exchange: str) -> None:
    """Regenerate the fake exchanges and compare them file by file with the committed output.

    After an intended change: ``UPDATE_GOLDEN=1 pytest tests/test_codegen.py``.
    """
    fresh = golden / "cambist" / exchange
    expected = GOLDEN / "expected" / exchange
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(expected, ignore_errors=True)
        shutil.copytree(fresh, expected, ignore=shutil.ignore_patterns("__pycache__"))
    assert _files(fresh) == _files(expected)


def test_generated_fake_clients_type_check(golden: Path) -> None:
    """The fake exchanges' output passes ``mypy --strict`` on its own."""
    packages = [arg for name in GOLDEN_EXCHANGES for arg in ("-p", f"cambist.{name}")]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *packages],
        cwd=golden,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(golden)},
    )
    assert result.returncode == 0, result.stdout


def _json(body: bytes) -> Callable[[Received], Reply]:
    return lambda r: Reply(200, body)


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.usefixtures("golden_importable")
def test_generated_fakex_client_works() -> None:
    """fakex's generated client against a loopback server: the exact requests (query, form
    body, JSON body; the HMAC of query + body sent as a param) and the exact models."""
    from cambist.fakex import FakeX
    from cambist.fakex._config import EXCHANGE
    from cambist.fakex.models import Candle, Fill, Fills, Level, OrderItem, Side

    fills = (
        b'[{"fillId": "9007199254740993", "px": "0.10", "side": "BUY", "level": 2,'
        b' "tags": ["a"]}, {"fillId": 7, "px": "5", "side": "NEWSIDE", "later": 1}]'
    )
    placed = b'{"fills": [], "candles": [[1, "2.5"], [2, "3", "4.000"]]}'
    with (
        LoopbackServer() as srv,
        FakeX(api_key=API_KEY, api_secret=API_SECRET, base_url=srv.url) as fx,
    ):
        srv.routes[("GET", "/time")] = lambda r: Reply(200, {"now": _now_ms()})
        srv.routes[("GET", "/fills")] = _json(fills)
        srv.routes[("POST", "/order")] = _json(placed)
        srv.route("POST", "/orders", {})

        got = fx.market.list_fills(side=Side.BUY, limit=5)
        sent = srv.received[-1]
        assert (sent.method, sent.path, sent.query, sent.body) == (
            "GET",
            "/fills",
            "side=BUY&limit=5",
            b"",
        )
        assert "x-fake-key" not in sent.headers  # a public endpoint
        assert got == [
            Fill(
                fill_id=9007199254740993,
                price=Decimal("0.10"),
                side=Side.BUY,
                level=Level.TWO,
                tags=["a"],
            ),
            Fill(fill_id=7, price=Decimal("5"), side=Side("NEWSIDE"), level=None, tags=None),
        ]
        assert type(got[0].fill_id) is int and str(got[0].price) == "0.10"
        assert got[1].side.value == "NEWSIDE" and got[1].side not in list(Side)

        result = fx.trade.place(side="SELL", qty=Decimal("1E-7"), cid="c-1")
        assert [r.path for r in srv.received] == ["/fills", "/time", "/order"]  # server clock
        sent = srv.received[-1]
        assert (sent.method, sent.path, sent.query) == ("POST", "/order", "")
        assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
        assert sent.headers["x-fake-key"] == API_KEY
        form = r"side=SELL&qty=0\.0000001&cid=c-1&timestamp=(\d+)&signature=[0-9a-f]{64}"
        match = re.fullmatch(form, sent.body.decode())
        assert match and abs(int(match[1]) - _now_ms()) < 5000
        assert verify(EXCHANGE, sent, API_SECRET)
        assert result == Fills(
            fills=[],
            candles=[Candle(1, Decimal("2.5")), Candle(2, Decimal("3"), Decimal("4.000"))],
        )
        assert result.candles is not None and str(result.candles[1].volume) == "4.000"

        fx.trade.place(side=Side.BUY, notional=Decimal("3"))  # a fresh client order id
        assert re.fullmatch("[0-9a-f]{32}", srv.received[-1].params["cid"])

        answer = fx.trade.place_many(orders=[OrderItem(side=Side.BUY, qty=Decimal("2"), cid="x")])
        assert answer is None  # the spec gives no response
        sent = srv.received[-1]
        assert sent.body == b'[{"side":"BUY","qty":"2","cid":"x"}]'
        assert sent.headers["content-type"] == "application/json"
        assert re.fullmatch(r"timestamp=\d+&signature=[0-9a-f]{64}", sent.query)
        assert verify(EXCHANGE, sent, API_SECRET)  # over query + JSON body

        count = len(srv.received)
        with pytest.raises(RequestValidationError, match="qty"):
            fx.trade.place(side="BUY")  # one_of: [qty, notional]
        with pytest.raises(RequestValidationError, match="limit"):
            fx.market.list_fills(side="BUY", limit=101)  # max: 100
        with pytest.raises(RequestValidationError, match="side"):
            fx.market.list_fills(side="LEFT")  # type: ignore[arg-type]
        with pytest.raises(RequestValidationError, match="side: 'LIQUIDATE' is received only"):
            fx.market.list_fills(side=Side.LIQUIDATE)  # received_only: true
        with pytest.raises(RequestValidationError, match=r"OrderItem\.side: 'LIQUIDATE' is rec"):
            fx.trade.place_many(orders=[OrderItem(side=Side.LIQUIDATE, qty=Decimal(1))])
        assert len(srv.received) == count  # nothing sent

        srv.route("POST", "/order", {"code": -2, "msg": "Order 5 not found"}, status=400)
        with pytest.raises(OrderNotFoundError) as info:
            fx.trade.place(side="BUY", qty=Decimal(1))
        assert (info.value.code, info.value.status_code) == (-2, 400)  # the code as sent


@pytest.mark.anyio
@pytest.mark.usefixtures("golden_importable")
async def test_generated_fakex_async_client_works() -> None:
    from cambist.fakex import AsyncFakeX
    from cambist.fakex.models import Fill, Side

    with LoopbackServer() as srv:
        srv.route("GET", "/fills", [{"fillId": 1, "px": "1.50", "side": "SELL"}])
        async with AsyncFakeX(base_url=srv.url, time_sync=False) as fx:
            got = await fx.market.list_fills(side="SELL")
    assert srv.received[-1].query == "side=SELL"
    assert got == [Fill(fill_id=1, price=Decimal("1.50"), side=Side.SELL)]


@pytest.mark.usefixtures("golden_importable")
def test_generated_fakey_client_works() -> None:
    """fakey's generated client: the HMAC of the query (GET) or the exact body bytes sent in
    a header with an expiry, answers unwrapped from the {code, msg, data} envelope, decimals
    and ids read exactly from JSON numbers, envelope error codes mapped."""
    from cambist.fakey import FakeY
    from cambist.fakey._examples import EXAMPLES
    from cambist.fakey.models import Order, Side, Ticker

    order = (
        b'{"code": 0, "msg": "", "data": {"id": 4611688217450643477, "clientId": "12",'
        b' "side": "sell", "price": 0.10, "qty": -1E-7, "later": [1.5]}}'
    )
    orders = (
        b'{"code": 0, "msg": "", "data": [{"id": 9007199254740993, "clientId": "",'
        b' "side": "short", "price": 2, "qty": 1.000, "note": "n"}]}'
    )
    with (
        LoopbackServer() as srv,
        FakeY(api_key=API_KEY, api_secret=API_SECRET, base_url=srv.url, time_sync=False) as fy,
    ):
        srv.routes[("GET", "/v1/ticker")] = _json(EXAMPLES[("GET", "/v1/ticker")].encode())
        srv.routes[("POST", "/v1/order")] = _json(order)
        srv.routes[("GET", "/v1/orders")] = _json(orders)

        ticker = fy.market.get_ticker(symbol="BTC_USDT")
        sent = srv.received[-1]
        assert (sent.method, sent.path, sent.query, sent.body) == (
            "GET",
            "/v1/ticker",
            "symbol=BTC_USDT",
            b"",
        )
        assert not {"fakey-key", "fakey-sign", "fakey-expire"} & set(sent.headers)
        assert ticker == Ticker(
            symbol="BTC_USDT", last_price=Decimal("10043.8500"), time=1643193746043
        )
        assert str(ticker.last_price) == "10043.8500"  # the number's digits, never a float's

        created = fy.trade.create_order(
            symbol="BTC_USDT", side=Side.SELL, price=Decimal("0.10"), quantity=Decimal("1E-7")
        )
        sent = srv.received[-1]
        assert (sent.method, sent.path, sent.query) == ("POST", "/v1/order", "")
        assert sent.headers["content-type"] == "application/json"
        client_id = json.loads(sent.body)["clientId"]  # filled in: int64 digits
        assert re.fullmatch(r"\d+", client_id) and int(client_id) < 2**63
        assert sent.body == (
            b'{"symbol":"BTC_USDT","side":"sell","price":"0.10","qty":"0.0000001",'
            b'"clientId":"' + client_id.encode() + b'"}'
        )
        assert sent.headers["fakey-key"] == API_KEY
        assert (
            sent.headers["fakey-sign"]
            == hmac.new(API_SECRET.encode(), sent.body, "sha256").hexdigest()
        )
        assert 0 <= int(sent.headers["fakey-expire"]) - _now_ms() <= 5000  # now + 5 s
        assert created == Order(
            order_id=4611688217450643477,
            client_id="12",
            side=Side.SELL,
            price=Decimal("0.10"),
            quantity=Decimal("-1E-7"),
        )
        assert str(created.price) == "0.10" and created.note is None

        listed = fy.trade.list_orders(symbol="BTC_USDT", limit=2)
        sent = srv.received[-1]
        assert (sent.method, sent.query, sent.body) == ("GET", "symbol=BTC_USDT&limit=2", b"")
        assert (
            sent.headers["fakey-sign"]
            == hmac.new(API_SECRET.encode(), sent.query.encode(), "sha256").hexdigest()
        )
        assert listed == [
            Order(
                order_id=9007199254740993,
                client_id="",
                side=Side("short"),
                price=Decimal("2"),
                quantity=Decimal("1.000"),
                note="n",
            )
        ]
        assert str(listed[0].quantity) == "1.000" and listed[0].side not in list(Side)

        srv.route("POST", "/v1/order", {"code": 2001, "msg": "Not enough funds", "data": None})
        with pytest.raises(InsufficientBalanceError) as info:  # an error in a 200 answer
            fy.trade.create_order(symbol="X", side="buy", price=Decimal(1), quantity=Decimal(1))
        assert (info.value.code, info.value.message) == (2001, "Not enough funds")


def test_generation_is_deterministic(golden: Path, tmp_path: Path) -> None:
    build(GOLDEN, tmp_path / "again")
    assert _files(golden / "cambist") == _files(tmp_path / "again" / "cambist")


def test_check_passes_on_a_clean_tree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_every_generated_file_says_where_it_came_from() -> None:
    for path in (ROOT / "generated" / "cambist").rglob("*.py"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# Generated by codegen from "), path
        assert first.endswith("— do not edit.")


@pytest.mark.parametrize(
    ("yaml_text", "line", "message"),
    [
        ("endpoints:\n  - name: a.b\n    sumary: x\n", 3, "unknown key 'sumary'"),
        ("endpoints:\n  - name: a.b\n    summary: x\n", 2, "missing required key 'source'"),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    weight: [1]\n",
            8,
            "expected a single value, got a list",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    response: Missing\n",
            8,  # the `response:` line, not the endpoint's first
            "unknown type 'Missing'",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    params:\n      - name: p\n"
            "        required: true\n        type: Decimal\n",
            11,
            "unknown type 'Decimal': not a primitive, enum or model (did you mean 'decimal'?)",
        ),
        (
            "models:\n  M:\n    fields:\n      - {name: a, type: 'list[Nope]'}\n",
            4,
            "unknown type 'Nope'",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: POST\n"
            "    path: /x\n    security: NONE\n",
            2,
            "must say `resend: safe` or `unsafe`",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: ROOT\n",
            7,
            "security 'ROOT' is not one of NONE, SIGNED",
        ),
        (
            "endpoints:\n  - name: ticker.get\n    summary: x\n    source: s\n"
            "    method: GET\n    path: /x\n    security: NONE\n    response: Ticker\n"
            "models:\n  Ticker:\n    fields:\n      - {name: a, type: int}\n",
            2,
            "resource 'ticker' would be a class named like the type 'Ticker'",
        ),
        ("enums:\n  E:\n    values: [1]\n", 2, "give it a `name`"),
        (
            "enums:\n  E:\n    values:\n      - {value: A}\n"
            "      - {value: B, received_only: 'yes'}\n",
            5,
            "expected bool, got 'yes'",
        ),
        (
            "enums:\n  E:\n    values:\n      - {value: A}\n      - {value: B, send_instead: A}\n",
            5,
            "`send_instead` needs `received_only: true`",
        ),
        (
            "models:\n  R:\n    row: true\n    fields:\n"
            "      - {name: a, type: int, optional: true}\n"
            "      - {name: b, type: int}\n      - {name: c, type: int, optional: true}\n",
            2,
            "only trailing fields may be optional",
        ),
        ("models:\n  M:\n    fields: []\n  M:\n    fields: []\n", 4, "duplicate key 'M'"),
        *(
            (
                "endpoints:\n  - name: a.list_b\n    summary: x\n    source: s\n"
                "    method: GET\n    path: /x\n    security: NONE\n    params:\n"
                "      - {name: limit, type: int, required: false, max: 50}\n"
                "      - {name: before, type: long, required: false}\n"
                f"    response: {response}\n    paging: {{{paging}}}\n"
                "models:\n  B:\n    fields:\n      - {name: i, type: long}\n"
                "      - {name: t, type: long, optional: true}\n"
                "  Bs:\n    fields:\n      - {name: rows, type: 'list[B]'}\n",
                12,
                message,
            )
            for response, paging, message in [
                ("list[B]", "by: id, param: after, field: i, limit: limit", "names 'after'"),
                ("list[B]", "by: id, param: before, limit: limit", "needs `field`"),
                (
                    "list[B]",
                    "by: id, param: before, field: t, limit: limit",
                    "'t' is not a required",
                ),
                ("list[B]", "by: page, param: before, field: i, limit: limit", "takes no `field`"),
                ("Bs", "by: id, param: before, field: i, limit: limit", "say which field"),
                ("Bs", "by: id, param: before, field: i, limit: limit, items: r", "no object"),
                ("list[B]", "by: id, param: before, field: i, limit: before", "give `size`"),
                (
                    "list[B]",
                    "by: id, param: before, field: i, limit: limit, total: n",
                    "total: 'n'",
                ),
                ("list[B]", "by: cursor, param: before, limit: limit", "not one of"),
            ]
        ),
        ("models:\n  M:\n    fields:\n      - {name: a, type: string\n", 5, "YAML syntax"),
        (  # an unquoted 0102 is YAML 1.1 octal: error code 66
            "enums:\n  E:\n    values:\n      - {value: 0102, name: X}\n",
            4,
            'YAML reads 0102 as the number 66: quote it ("0102")',
        ),
        (  # a misspelt `when` value never matches: the rule would never apply
            "enums:\n  Kind:\n    values: [LIMIT, MARKET]\n"
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    params:\n"
            "      - {name: type, type: Kind, required: true}\n"
            "      - {name: price, type: decimal, required: false}\n"
            "    rules:\n      - {require: price, when: {type: [LIMT]}}\n",
            15,
            "when: 'LIMT' is not a value of type's enum Kind (LIMIT, MARKET)",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    params:\n"
            "      - {name: p, type: int, required: false}\n"
            "    rules:\n      - {require: p, when: {p: []}}\n",
            11,
            "`when` lists no value of 'p'",
        ),
        (  # an input model's field read as an output field: a KeyError traceback
            "models:\n  M:\n    input: true\n    fields:\n"
            "      - {name: a, type: int, required: true}\n      - {name: b, type: int}\n",
            6,
            "an input model's fields are params: give `required`",
        ),
        (
            "models:\n  M:\n    input: true\n    fields:\n"
            "      - {name: b, type: int, optional: true}\n",
            5,
            "give `required` (true, false or the document's condition), not `optional`",
        ),
        (  # of a field's two shapes (output, input), the error of the one the author meant
            "models:\n  M:\n    fields:\n      - {name: a, type: int, optional: maybe}\n",
            4,
            "expected bool, got 'maybe'",
        ),
        (
            "models:\n  M:\n    fields:\n      - {name: a, type: int, optinal: true}\n",
            4,
            "unknown key 'optinal' (known: description, name, note, optional, py_name, type)",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    params:\n"
            "      - {name: p, type: int, required: false}\n    rules:\n      - {require: p}\n",
            11,
            "missing required key 'when'",
        ),
        (  # a param named like the method's own `timeout=` made a duplicate argument
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    params:\n"
            "      - {name: timeout, type: int, required: false}\n",
            9,
            "the Python name 'timeout' is taken by the generated method's own",
        ),
        (
            "endpoints:\n  - name: a.b\n    summary: x\n    source: s\n    method: GET\n"
            "    path: /x\n    security: NONE\n    params:\n"
            "      - {name: extraHeaders, type: string, required: false}\n",
            9,
            "'extra_headers' is taken",
        ),
        (
            "models:\n  M:\n    fields:\n      - {name: a, type: int}\n"
            "      - {name: b-c, py_name: b-c, type: int}\n",
            5,
            "py_name 'b-c' is not a snake_case Python identifier",
        ),
        (
            "models:\n  M:\n    fields:\n      - {name: cls, py_name: class, type: int}\n",
            4,
            "py_name 'class' is not",
        ),
    ],
)
def test_spec_errors_name_file_and_line(
    tmp_path: Path, yaml_text: str, line: int, message: str
) -> None:
    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(GOLDEN / "specs" / "fakex", folder)
    (folder / "trading.yaml").unlink()
    (folder / "broken.yaml").write_text(textwrap.dedent(yaml_text))
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    text = str(info.value)
    assert text.startswith(f"specs/fakex/broken.yaml:{line}: "), text
    assert message in text


def test_cli_validate_lists_the_specs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "validate"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "hashkey: 41 endpoints" in result.stdout


@pytest.mark.parametrize(
    ("wire", "py"),
    [
        ("clientOrderId", "client_order_id"),
        ("b", "b"),
        ("24hr", "f_24hr"),
        ("from", "from_"),
        ("maxWIthdrawQuantity", "max_w_ithdraw_quantity"),
        ("isBuyerMaker", "is_buyer_maker"),
    ],
)
def test_snake_case(wire: str, py: str) -> None:
    assert snake(wire) == py


def test_check_fails_on_a_hand_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from codegen.__main__ import check

    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    shutil.copytree(ROOT / "generated" / "cambist", tmp_path / "generated" / "cambist")
    (tmp_path / "generated" / "cambist.egg-info").mkdir()  # an editable install's: ignored
    assert check(tmp_path) == 0
    edited = tmp_path / "generated" / "cambist" / "hashkey" / "models" / "spot.py"
    edited.write_text(edited.read_text() + "# hand edit\n")
    (tmp_path / "generated" / "cambist" / "stray.py").write_text("")
    assert check(tmp_path) == 1
    out = capsys.readouterr().out
    assert "+# hand edit" not in out and "-# hand edit" in out
    assert "generated/cambist/stray.py: only in generated/" in out


def test_a_yml_spec_file_is_not_ignored(tmp_path: Path) -> None:
    """`futures.yml` next to the `.yaml` files was skipped without a word."""
    shutil.copytree(GOLDEN / "specs" / "fakex", tmp_path / "specs" / "fakex")
    (tmp_path / "specs" / "fakex" / "futures.yml").write_text("enums: {}\n")
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value).startswith("specs/fakex/futures.yml:1: a spec file's name ends in .yaml")


def test_an_example_no_endpoint_answers_is_refused(tmp_path: Path) -> None:
    """An example whose endpoint was removed or renamed (or misnamed) was dropped silently."""
    shutil.copytree(GOLDEN / "specs" / "fakey", tmp_path / "specs" / "fakey")
    examples = tmp_path / "specs" / "fakey" / "examples"
    load_all(tmp_path / "specs", tmp_path)
    (examples / "GET_v1_tickers.json").write_text("{}")
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value).startswith(
        "specs/fakey/examples/GET_v1_tickers.json:1: no endpoint answers with this example"
    )


@pytest.mark.parametrize("name", ["Endpoint", "Decimal"])
def test_a_model_named_like_an_import_is_refused(tmp_path: Path, name: str) -> None:
    """A model `Endpoint` (or `Decimal`, `Param`, ...) replaced the runtime's class in the
    modules importing both: the generated code failed ruff and mypy, and the run said
    nothing."""
    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(GOLDEN / "specs" / "fakex", folder)
    (folder / "extra.yaml").write_text(
        "endpoints:\n  - name: extra.get\n    summary: x\n    source: s\n    method: GET\n"
        f"    path: /extra\n    security: NONE\n    response: {name}\n"
        f"models:\n  {name}:\n    fields:\n      - {{name: a, type: decimal}}\n"
    )
    with pytest.raises(SpecError) as info:
        build(tmp_path, tmp_path / "out")
    assert str(info.value).startswith("specs/fakex/extra.yaml:10: generated/cambist/fakex/")
    assert f"needs two names {name!r}" in str(info.value)


def test_an_endpoint_defined_in_two_files_names_both(tmp_path: Path) -> None:
    """The second definition's error said "already defined at line 41", a line of another
    file."""
    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(GOLDEN / "specs" / "fakex", folder)
    first = next(
        i
        for i, row in enumerate((folder / "trading.yaml").read_text().splitlines(), 1)
        if row == "  - name: market.list_fills"
    )
    (folder / "zmore.yaml").write_text(
        "endpoints:\n  - name: market.list_fills\n    summary: x\n    source: s\n"
        "    method: GET\n    path: /again\n    security: NONE\n"
    )
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value) == (
        "specs/fakex/zmore.yaml:2: endpoint 'market.list_fills' is already defined at"
        f" specs/fakex/trading.yaml:{first}"
    )


def test_a_spec_folder_without_exchange_yaml_is_refused(tmp_path: Path) -> None:
    """A new exchange's folder whose exchange.yaml is missing (or misnamed) was skipped: no
    package, no error."""
    shutil.copytree(GOLDEN / "specs" / "fakex", tmp_path / "specs" / "fakex")
    (tmp_path / "specs" / "okx").mkdir()
    (tmp_path / "specs" / "okx" / "market.yaml").write_text("endpoints: []\n")
    (tmp_path / "specs" / "sources").mkdir()  # documents, not specs
    (tmp_path / "specs" / "sources" / "okx.md").write_text("# OKX\n")
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value).startswith("specs/okx: no exchange.yaml")
