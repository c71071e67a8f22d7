"""Every string a client can send has a maximum length, every list and map a maximum size.

The idea: an unbounded field is an invitation to send a megabyte where a name goes, and
the server then stores, indexes or decodes it. The OpenAPI document declares every
input of every operation (path, query and header parameters, request bodies), and the
bounds in it come from the same declarations that the server enforces (msgspec `Meta`,
Litestar `Parameter`), so walking the document finds every field that lacks one. A new
route with a bare `str` fails here with the field's name. (That the server enforces
what the document says is checked by tests/reliability/test_schemathesis.py, which sends
requests that break the schema, and by the regression tests of each module.)

Cost: one in-process app; well under a second.
"""

from __future__ import annotations

from collections.abc import Iterator

FIXED = ("enum", "const")  # a value from a list has the length of the longest one
ALTERNATIVES = ("oneOf", "anyOf")


def resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def unbounded(schemas: list[dict], where: str, components: dict, depth: int = 0) -> Iterator[str]:
    """Where the value that all `schemas` describe together can be of any size.

    JSON Schema applies every keyword of every schema in the list to the same value, so a
    `maxLength` beside a `oneOf` bounds the string inside it (Litestar writes `str | None`
    that way); each alternative of a `oneOf` is walked together with the rest.
    """
    if depth > 20:  # a recursive schema: its inner levels repeat the outer ones
        return
    schemas = [resolve(schema, components) for schema in schemas]
    for i, schema in enumerate(schemas):
        if "allOf" in schema:
            rest = schemas[:i] + [{k: v for k, v in schema.items() if k != "allOf"}] + schemas[i + 1:]
            yield from unbounded(rest + schema["allOf"], where, components, depth + 1)
            return
        alternatives = next((schema[key] for key in ALTERNATIVES if key in schema), None)
        if alternatives is not None:
            rest = schemas[:i] + [{k: v for k, v in schema.items() if k not in ALTERNATIVES}] + schemas[i + 1:]
            for alternative in alternatives:
                yield from unbounded([*rest, alternative], where, components, depth + 1)
            return

    def has(keyword: str) -> bool:
        return any(keyword in schema for schema in schemas)

    if any(has(keyword) for keyword in FIXED):
        return
    types = set()
    for schema in schemas:
        kind = schema.get("type")
        types |= set(kind) if isinstance(kind, list) else {kind} if kind else set()
    if "string" in types and not has("maxLength") and not any(s.get("format") == "binary" for s in schemas):
        yield f"{where}: a string without maxLength"
    if "array" in types:
        if not has("maxItems"):
            yield f"{where}: an array without maxItems"
        items = [schema["items"] for schema in schemas if isinstance(schema.get("items"), dict)]
        yield from unbounded(items, f"{where}[]", components, depth + 1)
    names = {name for schema in schemas for name in schema.get("properties", {})}
    for name in sorted(names):
        fields = [schema["properties"][name] for schema in schemas if name in schema.get("properties", {})]
        yield from unbounded(fields, f"{where}.{name}", components, depth + 1)
    values = [schema["additionalProperties"] for schema in schemas if isinstance(schema.get("additionalProperties"), dict)]
    if values:  # a map: its keys, its values and their number
        if not has("maxProperties"):
            yield f"{where}: a map without maxProperties"
        keys = [{"type": "string"}] + [schema["propertyNames"] for schema in schemas if "propertyNames" in schema]
        yield from unbounded(keys, f"{where}.<key>", components, depth + 1)
        yield from unbounded(values, f"{where}.<value>", components, depth + 1)


def request_offenders(document: dict) -> Iterator[str]:
    """Every unbounded input of every operation, as 'METHOD /path where: what'."""
    components = document.get("components", {}).get("schemas", {})
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{label} {parameter['in']} {parameter['name']}"
                yield from unbounded([parameter.get("schema", {})], where, components)
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                yield from unbounded([content.get("schema", {})], f"{label} body ({media_type})", components)


async def test_every_request_string_list_and_map_is_bounded(client):
    document = (await client.get("/schema/openapi.json")).json()
    offenders = list(request_offenders(document))
    assert not offenders, "give these a max_length (msgspec Meta or Litestar Parameter):\n" + "\n".join(offenders)


def test_the_walk_finds_what_is_unbounded_and_accepts_what_is_bounded():
    bounded = {"type": "string", "maxLength": 20}
    document = {
        "paths": {
            "/things/{id}": {
                "post": {
                    "responses": {},
                    "parameters": [
                        {"in": "path", "name": "id", "schema": {"type": "string"}},
                        {"in": "query", "name": "cursor", "schema": {"oneOf": [{"type": "string"}, {"type": "null"}], "maxLength": 24}},
                        {"in": "query", "name": "order", "schema": {"type": "string", "enum": ["new", "top"]}},
                    ],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                }
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                        "ids": {"type": "array", "items": bounded},
                        "notes": {"oneOf": [{"type": "object", "additionalProperties": {"type": "string"}}],
                                  "additionalProperties": bounded, "propertyNames": bounded, "maxProperties": 3},
                        "labels": {"type": "object", "additionalProperties": bounded, "maxProperties": 3},
                    },
                }
            }
        },
    }
    assert sorted(request_offenders(document)) == sorted([
        "POST /things/{id} path id: a string without maxLength",
        "POST /things/{id} body (application/json).tags[]: a string without maxLength",
        "POST /things/{id} body (application/json).ids: an array without maxItems",
        "POST /things/{id} body (application/json).labels.<key>: a string without maxLength",
    ])
