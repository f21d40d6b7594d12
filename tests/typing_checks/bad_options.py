"""Client options a type checker must refuse (tests/test_client_options.py runs ``mypy
--strict`` and pyright on this file and expects an error on every line marked ``# bad``, and
none elsewhere). Never imported."""

from __future__ import annotations

from cambist.bibox import AsyncBibox
from cambist.binance_options import BinanceOptions
from cambist.hashkey import AsyncHashKey, HashKey


def misspelled_and_mistyped() -> None:
    HashKey(api_secert="s")  # bad: misspelled api_secret
    HashKey(enviroment="sandbox")  # bad: misspelled environment
    HashKey(max_retries="3")  # bad: a str for an int
    HashKey(recv_window="abc")  # bad: a str for an int
    HashKey(environment="sandbx")  # bad: not one of the spec's environments
    HashKey(timeout="10")  # bad: a str for seconds
    AsyncHashKey(ws_urls={"wss": "ws://127.0.0.1:1"})  # bad: not one of the spec's URL keys
    HashKey(rest_urls={"rest_domains": "https://x"})  # bad: HashKey has no endpoint host of its own
    AsyncBibox(environment="sandbox")  # bad: Bibox documents production only
    BinanceOptions(time_sync="yes")  # bad: a str for a bool


def accepted() -> None:
    HashKey(api_key="k", api_secret="s", environment="sandbox", max_retries=3, recv_window=5000)
    AsyncHashKey(ws_urls={"ws": "ws://127.0.0.1:1"}, timeout=5)
    AsyncBibox(rest_urls={"rest_domains": "https://api.bibox.tel"})
