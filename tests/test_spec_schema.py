"""The spec format as JSON Schema (``specs/schema/``): a valid schema that accepts every spec
an editor opens, the loader's checks built from it (errors keep file and line), and
``python -m codegen schema --check`` keeping schema, typed shapes and docs in agreement."""

from __future__ import annotations

import copy
import gc
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import codegen.schemas
from codegen.schema import SpecError
from codegen.spec import load_all

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "specs" / "schema"
SPEC_FILES = sorted(ROOT.glob("specs/*/*.yaml")) + sorted(ROOT.glob("tests/golden/specs/*/*.yaml"))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SPEC_FILES, ids=[str(p.relative_to(ROOT)) for p in SPEC_FILES])
def test_every_spec_file_is_valid_for_an_editor(path: Path) -> None:
    """What the YAML language server checks, with an independent JSON Schema validator."""
    name = "exchange" if path.name == "exchange.yaml" else "section"
    errors = list(_validator(name).iter_errors(yaml.safe_load(path.read_text())))
    assert not errors, errors[0].message
    if path.is_relative_to(ROOT / "specs"):  # the editor finds the schema from the file
        assert path.read_text().startswith(
            f"# yaml-language-server: $schema=../schema/{name}.schema.json\n"
        )


def test_an_unknown_key_fails_the_schema_and_the_loader_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(ROOT / "tests" / "golden" / "specs" / "fakex", folder)
    trading = folder / "trading.yaml"
    text = trading.read_text().replace("    weight: 2\n", "    weight: 2\n    wieght: 3\n", 1)
    trading.write_text(text)
    assert list(_validator("section").iter_errors(yaml.safe_load(text)))
    line = text.splitlines().index("    wieght: 3") + 1
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value).startswith(f"specs/fakex/trading.yaml:{line}: unknown key 'wieght'")


def test_loading_specs_leaves_no_yaml_node_alive(tmp_path: Path) -> None:
    """The YAML nodes (each with two marks) are freed when a load ends, good or bad, without
    waiting for the garbage collector: the scalar constructor remembered every node it built
    (all of every file ever loaded), and a kept error of an alternative shape held its frames
    in a cycle; a test process had 160,000 marks alive, and full collections took 140 ms."""
    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(ROOT / "tests" / "golden" / "specs" / "fakex", folder)
    trading = folder / "trading.yaml"
    gc.collect()
    gc.disable()  # what reference counting frees, alone
    try:
        load_all(tmp_path / "specs", tmp_path)
        trading.write_text(trading.read_text().replace("    weight: 2\n", "    wieght: 2\n", 1))
        with pytest.raises(SpecError):
            load_all(tmp_path / "specs", tmp_path)
        alive = sum(isinstance(o, yaml.Node) for o in gc.get_objects())
    finally:
        gc.enable()
    assert alive == 0


def test_item_errors_needs_a_list_of_a_model(tmp_path: Path) -> None:
    folder = tmp_path / "specs" / "fakex"
    shutil.copytree(ROOT / "tests" / "golden" / "specs" / "fakex", folder)
    trading = folder / "trading.yaml"
    text = trading.read_text()
    good = text.replace("    weight: 2\n", "    weight: 2\n    item_errors: true\n", 1)
    trading.write_text(good)
    load_all(tmp_path / "specs", tmp_path)  # list[Fill]: fine
    bad = good.replace("    response: list[Fill]\n", "    response: Fills\n", 1)
    trading.write_text(bad)
    with pytest.raises(SpecError, match="item_errors: true needs a response that is a list of"):
        load_all(tmp_path / "specs", tmp_path)


def test_a_listen_key_expiry_event_must_be_an_event_of_the_stream(tmp_path: Path) -> None:
    folder = tmp_path / "specs" / "binance_options"
    shutil.copytree(ROOT / "specs" / "binance_options", folder)
    streams = folder / "streams.yaml"
    text = streams.read_text()
    assert "expired_event: listenKeyExpired\n" in text
    streams.write_text(text.replace("expired_event: listenKeyExpired", "expired_event: keyGone"))
    line = text.splitlines().index("      expired_event: listenKeyExpired") + 1
    with pytest.raises(SpecError) as info:
        load_all(tmp_path / "specs", tmp_path)
    assert str(info.value).startswith(
        f"specs/binance_options/streams.yaml:{line}: expired_event 'keyGone' is not an event"
    )


def test_schema_check_passes() -> None:
    assert codegen.schemas.problems() == []
    for file, text in codegen.schemas.typed_shapes().items():
        assert (ROOT / "codegen" / "spec_types" / file).read_text() == text, file


def test_schema_check_finds_an_undocumented_key(monkeypatch: pytest.MonkeyPatch) -> None:
    original = codegen.schemas.json_schema

    def with_new_key(name: str) -> dict[str, Any]:
        schema = copy.deepcopy(original(name))
        if name == "section":
            schema["properties"]["webhooks"] = {"type": "string"}
        return schema

    monkeypatch.setattr(codegen.schemas, "json_schema", with_new_key)
    assert codegen.schemas.problems() == [
        "specs/schema/section.schema.json: key 'webhooks' is not in specs/README.md"
    ]


def test_schema_check_finds_a_vocabulary_the_runtime_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vocabulary = dict(codegen.schemas.VOCABULARY)
    vocabulary["signers"] = (*vocabulary["signers"], "ed25519")
    monkeypatch.setattr(codegen.schemas, "VOCABULARY", vocabulary)
    (problem,) = codegen.schemas.problems()
    assert "the signers enum is ['hmac_params', 'hmac_body_header']" in problem
    assert "'ed25519'" in problem
