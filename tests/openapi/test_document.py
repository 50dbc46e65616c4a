"""docs/openapi.json itself: a valid OpenAPI 3.1 document, self-consistent, and in step with the
route table in src/handlers/routes.c (every routed endpoint documented, every documented
endpoint routed)."""

from __future__ import annotations

import re

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from conftest import OPENAPI_PATH, REPO_ROOT

ROUTES_C = REPO_ROOT / "src" / "handlers" / "routes.c"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# {HTTP_GET | HTTP_POST, "/api/{user_id}/tasks", h_task_list, J}
ROUTE_RE = re.compile(r'\{\s*((?:HTTP_[A-Z]+\s*\|?\s*)+),\s*"([^"]*)",\s*(\w+)\s*,\s*([^}]*)\}')
# Endpoints that are not REST and are specified elsewhere: /mcp speaks JSON-RPC under the
# MCP specification (docs/mcp.md; tests/blackbox/test_mcp_*.py).
NOT_REST = {"/mcp"}


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def routed_endpoints() -> set:
    """(method, pattern) of every exact route in routes.c (prefix routes serve files)."""
    text = ROUTES_C.read_text().replace("\\\n", " ")  # join macro continuation lines
    found = set()
    for methods, pattern, _fn, flags in ROUTE_RE.findall(text):
        if "ROUTE_PREFIX" in flags or not pattern or pattern in NOT_REST:
            continue
        for m in re.findall(r"HTTP_([A-Z]+)", methods):
            found.add((m.lower(), pattern))
    return found


def test_document_is_valid_openapi_3_1(openapi_doc):
    assert openapi_doc["openapi"] == "3.1.0"
    validate(openapi_doc, cls=OpenAPIV31SpecValidator)


def test_document_is_pretty_printed_utf8_json():
    text = OPENAPI_PATH.read_text(encoding="utf-8")
    assert text.endswith("}\n"), "end the file with a newline after the closing brace"
    assert "\t" not in text, "indent with spaces"


def test_every_routed_endpoint_is_documented(openapi_doc):
    documented = {(m, p) for m, p, _ in operations(openapi_doc)}
    missing = sorted(routed_endpoints() - documented)
    assert not missing, f"routes.c serves endpoints docs/openapi.json does not describe: {missing}"


def test_every_documented_endpoint_is_routed(openapi_doc):
    routed = routed_endpoints()
    missing = sorted({(m, p) for m, p, _ in operations(openapi_doc)} - routed)
    assert not missing, f"docs/openapi.json describes endpoints routes.c does not serve: {missing}"


def test_operation_ids_are_unique(openapi_doc):
    ids = [op["operationId"] for _, _, op in operations(openapi_doc)]
    assert len(ids) == len(set(ids))


def _resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ptr = node["$ref"]
        assert ptr.startswith("#/"), ptr
        node = doc
        for part in ptr[2:].split("/"):
            node = node[part]
    return node


def _effective_security(doc, op):
    return op.get("security", doc.get("security", []))


def test_secured_operations_document_401_with_www_authenticate(openapi_doc):
    for method, path, op in operations(openapi_doc):
        if not _effective_security(openapi_doc, op):
            continue
        resp = _resolve(openapi_doc, op["responses"].get("401"))
        assert resp, f"{method.upper()} {path} requires a token but documents no 401"
        assert "WWW-Authenticate" in resp.get("headers", {}), f"{method.upper()} {path}: 401 without WWW-Authenticate"


def test_user_scoped_operations_document_403_and_422(openapi_doc):
    for method, path, op in operations(openapi_doc):
        if "{user_id}" in path:
            for code in ("403", "422"):
                assert code in op["responses"], f"{method.upper()} {path} lacks {code}"
        if "{task_id}" in path:
            assert "404" in op["responses"], f"{method.upper()} {path} lacks 404"


def test_bodies_document_400_413_415_422(openapi_doc):
    for method, path, op in operations(openapi_doc):
        if "requestBody" in op:
            for code in ("400", "413", "415", "422"):
                assert code in op["responses"], f"{method.upper()} {path} has a body but no {code}"


def test_errors_use_detail_shapes(openapi_doc):
    """Every 4xx/5xx body is {"detail": string}, except 422 (FastAPI's list) and /ready's 503."""
    for method, path, op in operations(openapi_doc):
        for code, resp in op["responses"].items():
            if not code.startswith(("4", "5")) or path == "/ready":
                continue
            schema = _resolve(openapi_doc, resp)["content"]["application/json"]["schema"]
            want = "ValidationError" if code == "422" else "Error"
            assert schema == {"$ref": f"#/components/schemas/{want}"}, f"{method.upper()} {path} {code}"


def test_rate_limited_responses_carry_retry_after(openapi_doc):
    for path in ("/api/auth/signup", "/api/auth/login"):
        resp = _resolve(openapi_doc, openapi_doc["paths"][path]["post"]["responses"]["429"])
        assert resp["headers"]["Retry-After"]["required"] is True


def test_examples_match_their_schemas(openapi_doc):
    """Examples shown on /docs must be valid instances of the schemas they illustrate."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(openapi_doc, default_specification=DRAFT202012))
    for name, schema in openapi_doc["components"]["schemas"].items():
        if "example" not in schema:
            continue
        validator = Draft202012Validator({"$ref": f"urn:openapi#/components/schemas/{name}"},
                                         registry=registry,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = list(validator.iter_errors(schema["example"]))
        assert not errors, f"example of {name}: {errors[0].message}"
