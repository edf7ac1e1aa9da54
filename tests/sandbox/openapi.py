"""Validate sandbox answers against GitHub's OpenAPI response schemas (tests only; reads ../shared)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SHARED = Path(__file__).resolve().parents[3] / "shared" / "github"
FILES = ("openapi-subset.json", "openapi-extra.json")


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes an explicit null alternative."""
    if isinstance(node, list):
        return [to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items()
           if k not in ("nullable", "discriminator", "example", "examples", "xml", "externalDocs", "deprecated",
                        "readOnly", "writeOnly")}
    if node.get("nullable"):
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str) and not any(k in out for k in ("$ref", "allOf", "oneOf", "anyOf")):
            out["type"] = [out["type"], "null"]
        else:
            return {"anyOf": [{"type": "null"}, out]}
    return out


@cache
def _doc(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHARED / name).read_text())
    return data


@cache
def _components(name: str) -> dict[str, Any]:
    converted: dict[str, Any] = to_json_schema(_doc(name)["components"])
    return converted


def response_schema(method: str, template: str, status: int) -> tuple[str, dict[str, Any]] | None:
    """(file, JSON Schema) of the answer GitHub documents for `method template` with `status`."""
    for name in FILES:
        op = _doc(name)["paths"].get(template, {}).get(method.lower())
        if op is None:
            continue
        resp = op["responses"].get(str(status))
        if resp is None:
            return None
        if "$ref" in resp:
            resp = _doc(name)["components"]["responses"][resp["$ref"].rsplit("/", 1)[-1]]
        schema = resp.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return None
        return name, {**to_json_schema(schema), "components": _components(name)}
    return None


def component_schema(component: str, name: str = "openapi-extra.json") -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{component}", "components": _components(name)}


def validate(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every schema violation, as 'path: message' strings (empty when valid)."""
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(instance)]
