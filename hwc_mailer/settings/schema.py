"""JSON Schemas of the service file and the routing rules, for an editor that checks the YAML as it is typed.

Generated from the models the loaders validate with, so the editor and `hwc-mailer check` agree on what a file
may hold: the loaders read the YAML as the JSON it stands for, strictly, as a JSON Schema does. Checks across
keys (a login method and the secrets it needs, a name used by two schools) stay with the loaders; the schema
carries those an editor can show (a secret's one source, a contact's profile and its key).

Shipped in hwc_mailer/schemas/ and printed by `hwc-mailer schema config|rules`; after a model changes, write
them again with `python -m hwc_mailer.settings.schema` (a test fails until then).
"""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .config import Settings
from .rules import Rules

PACKAGED_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
# Draft 7: what editors' YAML support (yaml-language-server) checks fully; the generated schemas use nothing newer.
DIALECT = "http://json-schema.org/draft-07/schema#"
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "config": (Settings, "hwc-mailer service file (/etc/hwc-mailer/config.yaml); every key in docs/config.md"),
    "rules": (Rules, "hwc-mailer routing rules: trusted senders, officers, schools and their contacts"),
}


def schema_file(kind: str) -> Path:
    """Where the shipped schema of `kind` (config or rules) is."""
    return PACKAGED_SCHEMAS / f"{kind}.schema.json"


def json_schema(kind: str) -> dict[str, Any]:
    """The schema of `kind`, fresh from the model, with the keys as written in YAML (aliases)."""
    model, title = SCHEMAS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": DIALECT, **schema, "title": title}


def json_text(kind: str) -> str:
    """The schema of `kind` as the shipped file holds it."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the shipped schemas again from the models."""
    for kind in SCHEMAS:
        schema_file(kind).write_text(json_text(kind), encoding="utf-8")
        sys.stdout.write(f"wrote {schema_file(kind)}\n")


if __name__ == "__main__":
    main()
