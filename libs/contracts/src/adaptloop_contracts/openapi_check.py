"""Find the operations of an OpenAPI document whose success answer is not described by a schema."""

from __future__ import annotations

from typing import Any

_METHODS = ("get", "put", "post", "delete", "patch")


def typed(schema: dict[str, Any] | None, *, json_body: bool = True) -> bool:
    """A reference to a model, a list or map of typed things, an object with properties; a string for text bodies.

    A bare `{}` or an object with only `additionalProperties: true` (what a `dict[str, Any]` return gives) is not.
    """
    if not schema:
        return False
    if "$ref" in schema:
        return True
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        real = [o for o in options if o.get("type") != "null"]
        return bool(real) and all(typed(o, json_body=json_body) for o in real)
    kind = schema.get("type")
    if kind == "array":
        return typed(schema.get("items"), json_body=json_body)
    if kind == "object":
        extra = schema.get("additionalProperties")
        return bool(schema.get("properties")) or (isinstance(extra, dict) and typed(extra, json_body=json_body))
    if kind == "string":
        return not json_body
    return kind in ("integer", "number", "boolean")


def untyped_operations(document: dict[str, Any]) -> list[str]:
    """`METHOD path status media` of every 2xx answer without a schema (or with an untyped JSON one)."""
    missing = []
    for path, item in sorted(document.get("paths", {}).items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            successes = {code: r for code, r in operation.get("responses", {}).items() if str(code).startswith("2")}
            if not successes:
                missing.append(f"{method.upper()} {path}: no success answer")
            for code, answer in sorted(successes.items()):
                content = answer.get("content") or {}
                if not content:
                    missing.append(f"{method.upper()} {path} {code}: no content")
                for media, spec in content.items():
                    json_body = media == "application/json" or media.endswith("+json")
                    if not typed(spec.get("schema"), json_body=json_body):
                        missing.append(f"{method.upper()} {path} {code} {media}: no schema")
    return missing
