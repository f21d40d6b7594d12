"""``python -m codegen diff REF``: the public API changes between the specs at a git ref and
the working tree, as a changelog entry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from codegen.diff import run

GOLDEN = Path(__file__).resolve().parent / "golden" / "specs" / "fakex"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_diff_reports_added_changed_and_removed_api(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "fakex"
    shutil.copytree(GOLDEN, spec)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    trading = spec / "trading.yaml"
    text = trading.read_text()
    for old, new in [
        ("      - SELL\n", "      - SELL\n      - {value: SHORT, description: Short}\n"),
        ("      - {value: 2, name: TWO}\n", ""),  # an enum value removed
        ("{name: px, py_name: price, type: decimal", "{name: px, py_name: price, type: string"),
        (
            "      - {name: limit, type: int, required: false, max: 100, default: 10}\n",
            "      - {name: limit, type: int, required: true, max: 100}\n"
            "      - {name: since, type: long, required: false}\n",
        ),
        ("    path: /fills\n", "    path: /v2/fills\n"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    trading.write_text(text)
    out = run("HEAD", tmp_path)
    assert out.startswith("## Unreleased (API changes since `HEAD`)\n")
    assert "### `cambist.fakex`" in out
    added = out.split("#### Added")[1].split("####")[0]
    changed = out.split("#### Changed")[1].split("####")[0]
    removed = out.split("#### Removed")[1]
    assert "- `Side` value `SHORT`" in added
    assert "- `market.list_fills()`: argument `since: long`" in added
    assert "- `market.list_fills()`: HTTP `GET /v2/fills`, was `GET /fills`" in changed
    assert (
        "- `market.list_fills()`: argument `limit` is required, was optional (**breaking**)"
        in changed
    )
    assert "- `Fill.price` is `string`, was `decimal` (**breaking**)" in changed
    assert "- `Level` value `2` (**breaking**)" in removed


def test_diff_without_changes(tmp_path: Path) -> None:
    shutil.copytree(GOLDEN, tmp_path / "specs" / "fakex")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    assert run("HEAD", tmp_path).endswith("No API changes.\n")


def _hashkey_changes(tmp_path: Path, edits: list[tuple[str, str, str]]) -> str:
    """The changelog entry for ``edits`` (file, old text, new text) to the HashKey spec."""
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "specs" / "hashkey", tmp_path / "specs" / "hashkey")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    for name, old, new in edits:
        path = tmp_path / "specs" / "hashkey" / name
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    return run("HEAD", tmp_path)


def test_diff_reports_paging_methods(tmp_path: Path) -> None:
    account = (Path(__file__).resolve().parent.parent / "specs/hashkey/account.yaml").read_text()
    start = account.index("    paging:\n      by: id\n")
    end = account.index("\n\n", start)
    out = _hashkey_changes(tmp_path, [("account.yaml", account[start : end + 1], "")])
    assert "- `account.iter_trades()` (**breaking**)" in out.split("#### Removed")[1]


def test_diff_reports_enum_member_renames_and_received_only(tmp_path: Path) -> None:
    out = _hashkey_changes(
        tmp_path,
        [
            (
                "common.yaml",
                "{value: SELL, description",
                "{value: SELL, name: SELL_SIDE, description",
            ),
            (
                "common.yaml",
                "        received_only: true\n        send_instead: MARKET with amount\n",
                "",
            ),
        ],
    )
    changed = out.split("#### Changed")[1]
    assert "- `OrderSide.SELL_SIDE` (value `SELL`) was `OrderSide.SELL` (**breaking**)" in changed
    assert "- `OrderType` value `MARKET_OF_QUOTE` may be sent (was received only)" in changed


def test_diff_reports_items_that_may_be_errors(tmp_path: Path) -> None:
    """``item_errors`` changes what the method returns: reported as a breaking change."""
    out = _hashkey_changes(
        tmp_path,
        [
            (
                "spot.yaml",
                "        description: Default 500, Maximum 1000\n    response: list[Order]\n",
                "        description: Default 500, Maximum 1000\n    response: list[Order]\n"
                "    item_errors: true\n",
            )
        ],
    )
    returns = "list[Order | APIError | ExecutionStatusUnknownError]"
    assert f"returns `{returns}`, was `list[Order]` (**breaking**)" in out


def test_diff_reports_a_code_with_several_rows(tmp_path: Path) -> None:
    """HashKey's 0001 has two rows, told apart by message: a change to the first was lost."""
    kind = '    kind: invalid_request\n    message: "Required field %s missing or invalid"'
    out = _hashkey_changes(
        tmp_path, [("exchange.yaml", kind, kind.replace("invalid_request", "other"))]
    )
    assert (
        "- error code `0001` ('Required field %s missing or invalid') raises as other, was"
        " invalid_request" in out.split("#### Changed")[1]
    )


def test_diff_reports_stream_channel_params_and_events(tmp_path: Path) -> None:
    """A channel's params and a stream's typed events are API: the diff said nothing."""
    param = "{name: klineType, type: KlineInterval, required: true"
    event = (
        "      - {type: outboundFiatAccountInfo, event: AccountUpdate,"
        " description: Fiat account balance change}\n"
    )
    out = _hashkey_changes(
        tmp_path,
        [
            ("streams.yaml", param, param.replace("KlineInterval", "string")),
            ("streams.yaml", event, ""),
        ],
    )
    changed = out.split("#### Changed")[1].split("####")[0]
    removed = out.split("#### Removed")[1]
    assert (
        "- `streams.public().subscribe_kline()`: argument `kline_type` is `string`, was"
        " `KlineInterval` (**breaking**)" in changed
    )
    assert "- `streams.user()`: `outboundFiatAccountInfo` pushes as `AccountUpdate`" in removed


def test_diff_reports_a_param_check_changed(tmp_path: Path) -> None:
    """A bound, cap or pattern refuses calls it took before: the diff said nothing."""
    limit = "{name: limit, type: int, required: false, default: 100, max: 200"
    out = _hashkey_changes(tmp_path, [("market.yaml", limit, limit.replace("200", "100"))])
    assert (
        "- `market.get_depth()`: argument `limit` before sending: max `100` (was max `200`)"
        in out.split("#### Changed")[1]
    )


def test_diff_reports_a_row_reordered(tmp_path: Path) -> None:
    """A row model is a NamedTuple read from an array: its order is API (unpacking)."""
    high = "      - {name: high_price, py_name: high, type: decimal, description: High Price}\n"
    low = "      - {name: low_price, py_name: low, type: decimal, description: Low Price}\n"
    out = _hashkey_changes(tmp_path, [("market.yaml", high + low, low + high)])
    assert (
        "- `Kline` (a row) has its fields in the order open_time, open, low, high, close,"
        in out.split("#### Changed")[1]
    )
