"""pydantic's and ruamel's complaints about a hand-written YAML file, in the words of the admin who wrote it.

"Extra inputs are not permitted" makes an admin search; "unknown key `user` under imap; did you mean
`username`?" does not. Each message names what was expected in YAML terms (a whole number, a list, one
of these words) and what was found, so the fix is in the message. Messages that validators write
themselves are already in those words and pass unchanged. A value is quoted back only where it is
a plain scalar: a section given as text may be a password written where a secret's source belongs.
"""

import difflib
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from ruamel.yaml.error import MarkedYAMLError

# The longest value quoted back in a message; a longer one is cut.
SHOWN_CHARACTERS = 60


class _AnyItem:
    """Any item of a list, where a message names every place a key belongs: schools[n].contacts[n]."""


ANY_ITEM = _AnyItem()
# Any name in a mapping of sections: gateways.NAME.
ANY_NAME = "NAME"


@dataclass(frozen=True)
class Form:
    """What a value of a field with a pattern must look like, in an admin's words: said instead of the pattern."""

    words: str
    # Whether to say how many characters were given (a digit too few is hard to see).
    counted: bool = False


def admin_message(error: ErrorDetails, model: type[BaseModel]) -> tuple[str, bool]:
    """The message for one of pydantic's errors about `model`, and whether it needs the dotted location before it
    (unknown and missing keys name their section themselves)."""
    location = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(model, location), False
    if kind == "missing":
        return f"missing key `{location[-1]}` {_under(location[:-1])}", False
    expected, metadata = _expected(model, location)
    value = error.get("input")
    context = error.get("ctx", {})
    words = _WORDS.get(kind)
    if words is not None:
        return words(value, context, expected, metadata), True
    return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, "), True


def yaml_message(error: MarkedYAMLError) -> str:
    """ruamel's complaint about the YAML itself, with what to do about it."""
    problem = error.problem or ""
    opened = f" (opened at line {error.context_mark.line + 1})" if error.context_mark else ""
    if "'\\t'" in problem:
        return "not valid YAML: a tab character; indent with spaces only"
    if problem.startswith("found character") and "cannot start any token" in problem:
        character = problem.split("'")[1]
        return f"not valid YAML: a value cannot start with `{character}`; put the value in quotes"
    if problem == "mapping values are not allowed here":
        return ("not valid YAML: a `key:` where none can start; check the indentation, the space after the colon "
                "of the key above, or quote a value that holds `: `")
    if problem.startswith("found duplicate key"):
        key = problem.split('"')[1]
        return f"not valid YAML: key `{key}` is given twice in the same section; keep one"
    if problem.startswith("expected <block end>"):
        return ("not valid YAML: this line does not fit the lines above; check its indentation (the keys of one "
                "section start in the same column) and that every quote above is closed")
    if problem.startswith("expected ',' or ']'"):
        return f"not valid YAML: a list started with `[` is not closed with `]`{opened}"
    if problem.startswith("expected ',' or '}'"):
        return f"not valid YAML: a mapping started with `{{` is not closed with `}}`{opened}"
    if "unexpected end of stream" in problem and "quoted scalar" in (error.context or ""):
        return f"not valid YAML: a quote is not closed{opened}"
    if problem.startswith("found undefined alias"):
        return "not valid YAML: a value cannot start with `*` (YAML reads it as a reference); put it in quotes"
    if problem == "but found another document":
        return "not valid YAML: a second document (after `---`); the file holds one"
    return f"not valid YAML: {problem}" + (f" ({error.context})" if error.context else "")


def _unknown_key(model: type[BaseModel], location: tuple[Any, ...]) -> str:
    key, section = str(location[-1]), location[:-1]
    message = f"unknown key `{key}` {_under(section)}"
    parent, _ = _expected(model, section)
    known = _keys(parent) if _is_model(parent) else []
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"{message}; did you mean `{close[0]}`?"
    homes = [home for home in _homes(model, key) if home != dotted(section)]
    if homes:
        return f"{message}; it is a key under {_either(homes)}: check its indentation"
    return message


def _under(section: tuple[Any, ...]) -> str:
    return f"under {dotted(section)}" if section else "at top level"


def dotted(location: tuple[Any, ...]) -> str:
    """A location as the admin reads it: imap.port, schools[3].contacts[0].email."""
    parts: list[str] = []
    for key in location:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif key is ANY_ITEM:
            parts.append("[n]")
        else:
            parts.append(("." if parts else "") + str(key))
    return "".join(parts)


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


# --- what the model expects where ---------------------------------------------------------------


def _expected(model: type[BaseModel], location: tuple[Any, ...]) -> tuple[Any, list[Any]]:
    """The type the model expects at `location`, with its Annotated metadata; (None, []) where pydantic's location
    cannot be followed."""
    expected: Any = model
    metadata: list[Any] = []
    for key in location:
        expected, _ = _unwrapped(expected)
        origin = get_origin(expected)
        if _is_model(expected) and isinstance(key, str):
            field = _field(expected, key)
            if field is None:
                return None, []
            expected, metadata = field.annotation, list(field.metadata)
            continue
        if origin in (tuple, list) and isinstance(key, int):
            expected = get_args(expected)[0]
        elif origin is dict and isinstance(key, str):
            expected = get_args(expected)[1]
        else:
            return None, []
        metadata = []
    expected, more = _unwrapped(expected)
    return expected, metadata + more


def _unwrapped(expected: Any) -> tuple[Any, list[Any]]:
    """`expected` without Annotated (its metadata returned) and without None in a union of one other type."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(expected)
        if origin is Annotated:
            expected, *more = get_args(expected)
            metadata += more
        elif origin in (Union, types.UnionType):
            others = [member for member in get_args(expected) if member is not type(None)]
            if len(others) != 1:
                return expected, metadata
            expected = others[0]
        else:
            return expected, metadata


def _is_model(expected: Any) -> bool:
    return isinstance(expected, type) and issubclass(expected, BaseModel)


def _field(model: type[BaseModel], key: str) -> FieldInfo | None:
    return next((field for name, field in model.model_fields.items() if (field.alias or name) == key), None)


def _keys(model: type[BaseModel]) -> list[str]:
    """The keys a section takes, as written in YAML (aliases where the model has them)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _homes(model: type[BaseModel], key: str) -> list[str]:
    """Every section of the file where `key` is a key, as imap, gateways.NAME or schools[n].contacts[n]."""
    return [dotted(section) for section, keys in _sections(model, ()) if key in keys]


def _sections(expected: Any, section: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], list[str]]]:
    expected, _ = _unwrapped(expected)
    origin = get_origin(expected)
    if _is_model(expected):
        yield section, _keys(expected)
        for name, field in expected.model_fields.items():
            yield from _sections(field.annotation, (*section, field.alias or name))
    elif origin in (tuple, list):
        yield from _sections(get_args(expected)[0], (*section, ANY_ITEM))
    elif origin is dict:
        yield from _sections(get_args(expected)[1], (*section, ANY_NAME))


# --- the words per kind of error --------------------------------------------------------------------


def _shown(value: object) -> str:
    """A scalar as the admin wrote it, in backticks; what anything else is."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"the number `{value}`"
    if isinstance(value, str):
        text = value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + "..."
        return f"`{text}`" if text.strip() else "an empty text"
    return _kind(value)


def _kind(value: object) -> str:
    """What a value is, without showing it."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping (keys under it)"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _number_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _limit(value: object) -> str:
    """A limit or a number given against it, as written."""
    return f"{value:.15g}" if isinstance(value, float) else str(value)


def _compared(value: object) -> str:
    return _limit(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _shown(value)


def _whole_number(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    if _number_text(value):
        return f"expected a whole number, got {_shown(value)} in quotes; write it without quotes"
    return f"expected a whole number, got {_shown(value)}"


def _number(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    if _number_text(value):
        return f"expected a number, got {_shown(value)} in quotes; write it without quotes"
    return f"expected a number, got {_shown(value)}"


def _yes_no(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"expected true or false, got {_shown(value)}"


def _text(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    what = "a path" if expected is Path else "text"
    if isinstance(value, (int, float)):
        return f"expected {what}, got {_shown(value)}; put it in quotes"
    return f"expected {what}, got {_shown(value)}"


def _one_of(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    if isinstance(expected, type) and issubclass(expected, Enum):
        choices = [str(member.value) for member in expected]
    elif get_origin(expected) is Literal:
        choices = [str(choice) for choice in get_args(expected)]
    else:
        choices = [choice.strip(" '") for choice in str(context.get("expected", "")).replace(" or ", ",").split(",")]
    return f"expected one of: {', '.join(choices)}; got {_shown(value)}"


def _a_date(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"expected a date as YYYY-MM-DD, got {_shown(value)}"


def _a_list(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"expected a list (`[a, b]`, or lines starting with `- `), got {_shown(value)}"


def _a_mapping(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    if _is_model(expected) and getattr(expected, "admin_form", None):
        return f"expected {expected.admin_form}; got {_kind(value)}"
    if _is_model(expected):
        keys = _keys(expected)
        required = [field.alias or name for name, field in expected.model_fields.items() if field.is_required()]
        named = required or keys[:3]
        more = ", ..." if len(named) < len(keys) else ""
        return f"expected a section with keys under it ({', '.join(named)}{more}); got {_kind(value)}"
    return f"expected a mapping of names to sections; got {_kind(value)}"


def _pattern(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    form = _form(metadata)
    if form is not None and form.counted and isinstance(value, str):
        return f"{form.words}; got {len(value)} characters: {_shown(value)}"
    if form is not None:
        return f"{form.words}; got {_shown(value)}"
    return f"{_shown(value)} does not have the form this key needs (pattern {context.get('pattern')})"


def _form(metadata: list[Any]) -> Form | None:
    return next((item for item in metadata if isinstance(item, Form)), None)


def _at_least(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"must be at least {_limit(context['ge'])}, got {_compared(value)}"


def _above(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"must be more than {_limit(context['gt'])}, got {_compared(value)}"


def _at_most(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"must be at most {_limit(context['le'])}, got {_compared(value)}"


def _below(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    return f"must be less than {_limit(context['lt'])}, got {_compared(value)}"


def _few(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    least = context.get("min_length", 1)
    if isinstance(value, str):
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    return "needs at least one entry" if least == 1 else f"needs at least {least} entries"


def _many(value: object, context: dict[str, Any], expected: Any, metadata: list[Any]) -> str:
    most = context.get("max_length")
    if isinstance(value, str):
        return f"must be at most {most} characters long, got {len(value)}"
    return f"takes at most {most} entries"


Words = Callable[[object, dict[str, Any], Any, list[Any]], str]

_WORDS: dict[str, Words] = {
    "int_type": _whole_number, "int_parsing": _whole_number, "int_from_float": _whole_number,
    "float_type": _number, "float_parsing": _number,
    "bool_type": _yes_no, "bool_parsing": _yes_no,
    "string_type": _text,
    "enum": _one_of, "literal_error": _one_of,
    "date_type": _a_date, "date_parsing": _a_date, "date_from_datetime_parsing": _a_date,
    "date_from_datetime_inexact": _a_date,
    "list_type": _a_list, "tuple_type": _a_list,
    "dict_type": _a_mapping, "model_type": _a_mapping, "model_attributes_type": _a_mapping,
    "string_pattern_mismatch": _pattern,
    "greater_than_equal": _at_least, "greater_than": _above, "less_than_equal": _at_most, "less_than": _below,
    "too_short": _few, "string_too_short": _few, "too_long": _many, "string_too_long": _many,
}
