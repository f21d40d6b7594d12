"""The coverage check against an endpoint list (exchange.yaml: coverage.endpoint_list): every
listed method and path must be in the spec, every spec endpoint in the list or the document."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegen.coverage import EndpointListError, check_spec, read_endpoint_list, run
from codegen.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parent.parent
LIST = "binance-options-endpoints.txt"


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    return tmp_path


def _spec(root: Path) -> Spec:
    return load_spec(root / "specs" / "binance_options", root)


def _list(root: Path) -> Path:
    return root / "specs" / "sources" / LIST


def test_binance_options_matches_its_endpoint_list() -> None:
    spec = load_spec(ROOT / "specs" / "binance_options", ROOT)
    report = check_spec(spec, ROOT / "specs" / "sources")
    assert report is not None and report.ok, report
    assert report.document == f"binance-options-general.txt + {LIST}"
    assert len(report.listed) == len(spec.endpoints)
    assert {(ep.http_method, ep.path) for ep in spec.endpoints} == set(report.listed)
    assert not report.ignored  # nothing is waved through


def test_each_endpoint_source_names_its_list_line() -> None:
    """An endpoint's `source:` names the same connector file and method as its list line."""
    spec = load_spec(ROOT / "specs" / "binance_options", ROOT)
    listed = read_endpoint_list(ROOT / "specs" / "sources" / LIST)
    for ep in spec.endpoints:
        line = listed[(ep.http_method, ep.path)]
        where = line.split(" .../", 1)[1]  # rest_api/api/<file>.py: <method>
        assert ep.source.endswith(where), (ep.name, ep.source, line)
        commit = "@eecce47b" if "@eecce47b" in line else None
        assert (commit in ep.source) if commit else "@" not in ep.source, ep.name


def test_a_list_line_missing_from_the_spec_is_a_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy(tmp_path)
    path = _list(root)
    line = "GET    /eapi/v1/newThing   a newer connector: new_thing"
    path.write_text(path.read_text() + "\n" + line + "\n")
    spec = _spec(root)
    report = check_spec(spec, root / "specs" / "sources")
    assert report is not None and not report.ok
    assert report.unlisted == [("GET", "/eapi/v1/newThing", "a newer connector: new_thing")]
    assert report.missing == [] and report.unmentioned == []
    assert run([spec], root / "specs" / "sources") == 1
    out = capsys.readouterr().out
    assert "GAPS" in out
    assert "in the endpoint list, not in the spec: GET /eapi/v1/newThing" in out


def test_the_method_must_match_too(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = _list(root)
    path.write_text(path.read_text() + "POST /eapi/v1/time  a POST the spec does not have\n")
    report = check_spec(_spec(root), root / "specs" / "sources")
    assert report is not None
    assert [(m, p) for m, p, _ in report.unlisted] == [("POST", "/eapi/v1/time")]


def test_a_spec_endpoint_the_list_dropped_is_a_gap(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = _list(root)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(x for x in lines if not x.startswith("GET    /eapi/v1/time ")))
    report = check_spec(_spec(root), root / "specs" / "sources")
    assert report is not None and not report.ok
    assert report.unmentioned == ["market.get_server_time (GET /eapi/v1/time)"]
    # an endpoint the document mentions needs no line: exchangeInfo is named in its prose
    info = "GET    /eapi/v1/exchangeInfo "
    path.write_text("\n".join(x for x in lines if not x.startswith(info)))
    report = check_spec(_spec(root), root / "specs" / "sources")
    assert report is not None and report.ok


def test_an_ignored_list_line_passes_with_its_reason(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = _list(root)
    path.write_text(path.read_text() + "DELETE /eapi/v1/retired  old connector: retired\n")
    exchange = root / "specs" / "binance_options" / "exchange.yaml"
    text = exchange.read_text()
    text = text.replace(
        "    endpoint_list: binance-options-endpoints.txt\n",
        "    endpoint_list: binance-options-endpoints.txt\n"
        "    ignore:\n"
        "      - {path: /eapi/v1/retired, reason: Retired by the exchange.}\n",
    )
    exchange.write_text(text)
    report = check_spec(_spec(root), root / "specs" / "sources")
    assert report is not None and report.ok
    assert report.ignored == ["DELETE /eapi/v1/retired (listed): Retired by the exchange."]


def test_a_malformed_or_repeated_line_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "list.txt"
    bad.write_text("# a comment\n\nGET /eapi/v1/ping  x\nFETCH /eapi/v1/ping\n")
    with pytest.raises(EndpointListError, match=r"list.txt:4: not `METHOD /path  source`"):
        read_endpoint_list(bad)
    bad.write_text("GET /eapi/v1/ping  x\nGET /eapi/v1/ping/  y\n")
    with pytest.raises(EndpointListError, match="listed twice"):
        read_endpoint_list(bad)
    good = tmp_path / "good.txt"
    good.write_text("GET /eapi/v1/ping\nPOST /eapi/v1/order  the connector\n")
    assert read_endpoint_list(good) == {
        ("GET", "/eapi/v1/ping"): "",
        ("POST", "/eapi/v1/order"): "the connector",
    }


def test_the_loader_accepts_only_a_string_list_name(tmp_path: Path) -> None:
    from codegen.schema import SpecError

    root = _copy(tmp_path)
    exchange = root / "specs" / "binance_options" / "exchange.yaml"
    exchange.write_text(
        exchange.read_text().replace(
            "endpoint_list: binance-options-endpoints.txt", "endpoint_list: [a, b]"
        )
    )
    with pytest.raises(SpecError, match=r"exchange\.yaml"):
        _spec(root)
