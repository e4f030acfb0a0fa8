"""The published schemas: which operation a request is, and what its bodies may hold.

Everything comes from BlackRock's swagger files in
``orderalloc/sources/aladdin/specs``: each file's ``basePath`` and ``paths``
say which operations exist (``POST .../ladders:filter``, ``GET
.../portfolioGroups/{id}/members``) and the definitions of their request
body and 200 answer; the ``definitions`` validate them, strictly (unknown
fields refused, and read-only fields in a request). Nothing is typed in
twice: a new operation in a spec file is known here at once.

``jsonschema`` is imported only when a body is validated.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from importlib import resources
from typing import Any

import attrs

from orderalloc.errors import MissingExtraError

__all__ = ["SCHEMAS", "Operation", "Schemas"]

_SPECS = "orderalloc.sources.aladdin"
_REF = "#/definitions/"


@attrs.frozen
class Operation:
    """One published operation: its swagger file and the definitions of its bodies.

    Attributes:
        file: The swagger file's stem (``"OrderAPI"``).
        request: The request body's definition, or None (no body).
        answer: The 200 answer's definition, or None (not published).
    """

    file: str
    request: str | None
    answer: str | None


def _definition(schema: Any) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else None


class Schemas:
    """Strict validators built from the swagger files, one per definition and direction."""

    def __init__(self) -> None:
        self._files: dict[str, dict[str, Any]] = {}
        self._routes: list[tuple[str, re.Pattern[str], Operation]] | None = None
        self._validators: dict[tuple[str, str, bool], Any] = {}
        self._lock = threading.Lock()

    def _file(self, name: str) -> dict[str, Any]:
        if name not in self._files:
            folder = resources.files(_SPECS) / "specs"
            self._files[name] = json.loads((folder / f"{name}.swagger.json").read_text("utf-8"))
        return self._files[name]

    def _index(self) -> list[tuple[str, re.Pattern[str], Operation]]:
        """Every operation of every spec file: method, path pattern, definitions."""
        routes = []
        for entry in sorted((resources.files(_SPECS) / "specs").iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".swagger.json"):
                continue
            name = entry.name.removesuffix(".swagger.json")
            spec = self._file(name)
            base = str(spec.get("basePath", "")).rstrip("/")
            for template, methods in spec.get("paths", {}).items():
                pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(base + template)))
                for method, op in methods.items():
                    if not isinstance(op, dict) or "responses" not in op:
                        continue  # "parameters" shared by the path's operations
                    body = [p for p in op.get("parameters", []) if p.get("in") == "body"]
                    request = _definition(body[0].get("schema")) if body else None
                    answer = _definition(op["responses"].get("200", {}).get("schema"))
                    routes.append((method.upper(), pattern, Operation(name, request, answer)))
        return routes

    def operation(self, method: str, path: str) -> Operation | None:
        """The published operation *method* *path* is, or None (not in the spec files)."""
        with self._lock:
            if self._routes is None:
                self._routes = self._index()
        for verb, pattern, op in self._routes:
            if verb == method and pattern.fullmatch(path):
                return op
        return None

    def _definitions(self, name: str, request: bool) -> dict[str, Any]:
        definitions: dict[str, Any] = copy.deepcopy(self._file(name)["definitions"])
        for key, schema in definitions.items():
            props = schema.get("properties")
            if key == "Any" or not isinstance(props, dict):
                continue  # Any carries arbitrary fields next to "@type"
            if request:
                # A client must not send what only the server fills in.
                for prop in [p for p, s in props.items() if s.get("readOnly")]:
                    del props[prop]
            schema.setdefault("additionalProperties", False)
        return definitions

    def errors(self, file: str, definition: str, instance: Any, *, request: bool) -> list[str]:
        """Every schema violation of *instance* (an empty list when it is valid)."""
        try:
            import jsonschema  # an optional, test-time dependency
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingExtraError(
                "validating requests against the Aladdin schemas", "jsonschema", "testing"
            ) from exc

        key = (file, definition, request)
        with self._lock:
            validator = self._validators.get(key)
            if validator is None:
                schema = {
                    "definitions": self._definitions(file, request),
                    "$ref": f"#/definitions/{definition}",
                }
                cls = jsonschema.Draft4Validator
                validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
                self._validators[key] = validator
        return [
            f"{file}.{definition} at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)
        ]


#: The one set of validators (they are built on first use and shared).
SCHEMAS = Schemas()
