"""JSON Schemas of the scenario and manifest formats, for editors (kept in sync by a test)."""

from __future__ import annotations

import json

from harness.inputs.manifest import Manifest
from harness.inputs.scenario import Scenario


def scenario_schema() -> dict:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Tweeter harness scenario"
    return schema


def manifest_schema() -> dict:
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Tweeter harness submission manifest (tweeter.yaml)"
    return schema


def dumps(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
