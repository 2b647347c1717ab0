"""What the service file and the rules share: one strict base model, fingerprints, and a
YAML loader whose errors point at file, line and column.

Admins edit the service file and the routing rules by hand; an error that says
"rules.yaml:41:9: schools[3].contacts[0].email: not a valid address" saves them
a search, so both loaders share this one, and it reports every problem, not the first.
"""

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, WithJsonSchema
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from .wording import Form, admin_message, dotted, yaml_message

Model = TypeVar("Model", bound=BaseModel)


class Strict(BaseModel):
    """Every admin-written model: unknown keys are errors (a typo never silently means a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # What the section looks like, said when something else stands where it belongs ("expected ...").
    admin_form: ClassVar[str | None] = None


def _fingerprint_text(value: object) -> object:
    """gpg prints fingerprints in groups; YAML reads an all-digit one as a number."""
    if isinstance(value, (int, float)):
        raise ValueError("put the fingerprint in quotes: YAML read it as a number")
    return value.replace(" ", "").upper() if isinstance(value, str) else value


# As written in YAML: gpg's groups of four, either case. The JSON Schema takes what the loader takes.
FINGERPRINT_AS_WRITTEN = r"^ *(?:[0-9A-Fa-f] *){40}$"
Fingerprint = Annotated[str, BeforeValidator(_fingerprint_text), StringConstraints(pattern=r"^[0-9A-F]{40}$"),
                        Form("not a 40-character fingerprint (40 hex digits, spaces allowed)", counted=True),
                        WithJsonSchema({"type": "string", "pattern": FINGERPRINT_AS_WRITTEN}),
                        Field(description="40 hex digits, as `gpg --fingerprint` prints them (spaces allowed)")]


class Located(ValueError):
    """Raised by a whole-model check to point at the parts of the file it is about."""

    def __init__(self, problems: list[tuple[str, tuple[str | int, ...]]]) -> None:
        super().__init__(problems[0][0])
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    message: str
    line: int | None = None
    column: int | None = None

    def where(self, path: Path | str) -> str:
        return f"{path}:{self.line}:{self.column}" if self.line else str(path)


class YamlProblem(Exception):
    """Every problem in one YAML file, in file order; the loaders turn it into their own error type."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


def load_model(path: Path, model: type[Model]) -> Model:
    """Read `path` and validate it as `model`; raise YamlProblem with a position.

    Validated as the JSON the YAML stands for, strictly: a number in quotes is text, as in the JSON Schema
    that editors check the file with, so what the editor accepts and what the loader accepts are the same."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise YamlProblem([Problem(f"cannot read file: {error.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[:error.start]
        raise YamlProblem([Problem("not UTF-8 text; save the file as UTF-8", before.count(b"\n") + 1,
                                   len(before) - (before.rfind(b"\n") + 1) + 1)]) from None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark
        raise YamlProblem([Problem(yaml_message(error),
                                   mark.line + 1 if mark else None, mark.column + 1 if mark else None)]) from None
    if document is None:
        if any(field.is_required() for field in model.model_fields.values()):
            raise YamlProblem([Problem("the file is empty (or holds only comments)")])
        document = {}
    try:
        return model.model_validate_json(json.dumps(json_data(document), default=str), strict=True)
    except ValidationError as error:
        found: list[tuple[bool, tuple[Any, ...], str]] = []
        for item in error.errors():
            cause = item.get("ctx", {}).get("error")
            misspelt = item["type"] == "extra_forbidden"
            if isinstance(cause, Located):
                found += [(misspelt, tuple(item["loc"]) + location, f"{dotted(tuple(item['loc']) + location)}: "
                           f"{message}") for message, location in cause.problems]
            else:
                message, located = admin_message(item, model)
                found.append((misspelt, tuple(item["loc"]), f"{dotted(tuple(item['loc']))}: {message}"
                              if located and item["loc"] else message))
        # A container's complaint that follows from a bad item inside it ("at least 1 item") says nothing new.
        locations = [location for _, location, _ in found]
        found = [entry for entry in found if not any(len(other) > len(entry[1]) and other[:len(entry[1])] == entry[1]
                                                     for other in locations)]
        problems = [(misspelt, Problem(message, *_position(document, location)))
                    for misspelt, location, message in found]
        # A misspelt key first (it explains the "missing" one beside it), then in file order.
        problems.sort(key=lambda entry: (not entry[0], entry[1].line or 0, entry[1].column or 0))
        raise YamlProblem([problem for _, problem in problems]) from None


def json_data(node: Any) -> Any:
    """ruamel's round-trip types as the JSON they stand for: plain dicts and lists, true and false (not ruamel's
    integers that print as them), dates as the ISO text an editor's JSON Schema check sees."""
    if isinstance(node, dict):
        return {str(key): json_data(value) for key, value in node.items()}
    if isinstance(node, list):
        return [json_data(item) for item in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, date):
        return node.isoformat()
    return node


def _position(document: Any, location: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """The deepest node of `location` that exists in the document, as 1-based line and column."""
    node = document
    line: int | None = None
    column: int | None = None
    for key in location:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and key in node:
                if lc is not None:
                    line, column = lc.key(key)
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                if lc is not None:
                    line, column = lc.item(key)
                node = node[key]
            else:
                break
        except (KeyError, TypeError):
            break
    if line is None:
        start = getattr(document, "lc", None)
        if location or start is None:
            return None, None
        line, column = start.line, start.col
    return line + 1, (column or 0) + 1

