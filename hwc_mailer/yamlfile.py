"""YAML files validated by pydantic, with errors that point at file, line and column.

Admins edit the service file and the routing rules by hand; an error that says
"rules.yaml:41:9: schools[3].contacts[0].email: not a valid address" saves them
a search, so both loaders share this one.
"""

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

Model = TypeVar("Model", bound=BaseModel)


class Located(ValueError):
    """Raised by a whole-model check to point at the part of the file it is about."""

    def __init__(self, message: str, location: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.location = location


class YamlProblem(Exception):
    """One problem in one YAML file; the loaders turn it into their own error type."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def load_model(path: Path, model: type[Model]) -> Model:
    """Read `path` and validate it as `model`; raise YamlProblem with a position."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise YamlProblem(f"cannot read file: {error.strerror}") from None
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark
        raise YamlProblem(f"not valid YAML: {error.problem}",
                          mark.line + 1 if mark else None, mark.column + 1 if mark else None) from None
    if document is None:
        document = {}
    try:
        return model.model_validate(_plain(document))
    except ValidationError as error:
        first = min(error.errors(), key=lambda item: item["type"] != "extra_forbidden")
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, Located):
            location, message = tuple(first["loc"]) + cause.location, str(cause)
        else:
            location, message = tuple(first["loc"]), first["msg"]
        line, column = _position(document, location)
        dotted = _dotted(location)
        raise YamlProblem(f"{dotted}: {message}" if dotted else message, line, column) from None


def _plain(node: Any) -> Any:
    """ruamel's round-trip types to plain dicts and lists, so pydantic sees ordinary data."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
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
        return None, None
    return line + 1, (column or 0) + 1


def _dotted(location: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for key in location:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            parts.append(("." if parts else "") + str(key))
    return "".join(parts)
