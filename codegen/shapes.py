"""The spec format's shapes (see ``specs/README.md``): what each file may hold, from the JSON
Schemas in ``specs/schema/``, checked with file and line by :mod:`codegen.schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The runtime's own vocabulary: a spec may name exactly what the runtime implements.
from cambist._runtime.errormap import ERROR_KINDS
from cambist._runtime.signing import SIGNERS
from cambist._runtime.streamdef import HEARTBEATS
from cambist._runtime.wire import PROTOCOLS
from codegen.schema import Check, from_json_schema

SCHEMAS = Path(__file__).resolve().parent.parent / "specs" / "schema"
"""The spec format as JSON Schema: ``exchange.schema.json`` and ``section.schema.json``. The
source of truth for what a spec file may hold: editors validate and complete with it (the
YAML language server), the loader's checks are built from it here, and the loader's typed
shapes (``codegen/spec_types.py``) are generated from it by datamodel-code-generator."""

VOCABULARY: dict[str, tuple[str, ...]] = {
    "signers": tuple(SIGNERS),
    "error_kinds": ERROR_KINDS,
    "protocols": tuple(PROTOCOLS),
    "heartbeats": HEARTBEATS,
}
"""The enums a spec takes from the runtime (``x-cambist-vocabulary`` in the schema)."""

METHODS = ("GET", "POST", "PUT", "DELETE")
PRIMITIVES = ("string", "int", "long", "decimal", "bool", "json")


def json_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return schema


EXCHANGE_SHAPE: Check = from_json_schema(json_schema("exchange"), VOCABULARY)
SECTION_SHAPE: Check = from_json_schema(json_schema("section"), VOCABULARY)
