"""Walks the pydantic config models; writes `docs/config.md` and the annotated `config.yaml` from them.

The tests use `config_keys()` to check that both files cover every key. After changing
`detector/config.py`, regenerate both with:

    .venv/bin/python -m tests.helpers.config_reference
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from detector.config import Config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "config.md"
CONFIG_YAML = ROOT / "config.yaml"


@dataclass(frozen=True)
class Key:
    """One leaf key of config.yaml, e.g. `analysis.fps`, `detector.model_path`, `cameras[].url`."""

    path: str
    field: FieldInfo
    variant: str | None = None  # the `type` of a discriminated-union section the key belongs to


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    """Config models inside an annotation (unions, optionals, tuples and lists are looked through)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(m for m in nested_models(arg) if m not in found)
    return found


def is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        return True
    return origin in (typing.Union, types.UnionType) and any(is_sequence(a) for a in typing.get_args(annotation))


def variant_of(model: type[BaseModel]) -> str | None:
    """The `type` tag of a discriminated-union member, if the model has one."""
    tag = model.model_fields.get("type")
    if tag is None or typing.get_origin(tag.annotation) is not Literal:
        return None
    return str(typing.get_args(tag.annotation)[0])


def walk(model: type[BaseModel], prefix: str = "", variant: str | None = None) -> Iterator[Key]:
    """Every leaf key below `model`, depth first, in declaration order."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        inner = nested_models(field.annotation)
        if not inner:
            yield Key(path, field, variant)
            continue
        child = path + ("[]." if is_sequence(field.annotation) else ".")
        for sub in inner:
            yield from walk(sub, child, variant_of(sub) if len(inner) > 1 else variant)


def config_keys() -> list[str]:
    """Dotted paths of every key Config accepts (variant keys listed once)."""
    return list(dict.fromkeys(key.path for key in walk(Config)))


# --- rendering --------------------------------------------------------------------------------------


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        text = " or ".join(type_name(a) for a in args)
        return text + (" or empty" if len(args) < len(typing.get_args(annotation)) else "")
    if origin in (tuple, list):
        return f"list of {type_name(typing.get_args(annotation)[0])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f'`"{m.value}"`' for m in annotation)
    names = {float: "number", int: "integer", str: "text", bool: "true/false", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def bounds(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if isinstance(item, getattr(annotated_types, attr.capitalize())):
                parts.append(f"{sign} {_number(getattr(item, attr))}")
        if isinstance(item, annotated_types.MinLen) and item.min_length:
            parts.append(f"length ≥ {item.min_length}")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"length ≤ {item.max_length}")
    return ", ".join(parts)


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(value)


def yaml_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [yaml_value(v) for v in value]
    if isinstance(value, BaseModel):
        return {k: yaml_value(v) for k, v in value.model_dump().items()}
    return value


def default_text(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "empty"
    dumped = yaml.safe_dump(yaml_value(value), default_flow_style=True, width=1000).strip()
    return f"`{dumped.removesuffix('...').strip()}`"


def section_doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    base_docs = {(b.__doc__ or "") for b in model.__mro__[1:]}
    return "" if doc in base_docs else " ".join(doc.split())


def render_markdown() -> str:
    lines = [
        "# Configuration reference",
        "",
        "`deepfake-monitor` reads one YAML file (`--config config.yaml`); every key is optional and the",
        "defaults below apply to whatever is left out. Unknown keys are errors that name the key, so a typo",
        "never passes silently. The repository's `config.yaml` lists every key with its default.",
        "",
        "Keys are written as dotted paths: `analysis.fps` is `fps` inside the `analysis:` section;",
        "`cameras[].url` is `url` inside each entry of the `cameras:` list.",
        "",
        "This file is generated from `detector/config.py` by `python -m tests.helpers.config_reference`;",
        "`tests/detector/test_config.py` fails when a key is missing here.",
        "",
    ]
    for name, field in Config.model_fields.items():
        inner = nested_models(field.annotation)
        lines += [f"## `{name}`", ""]
        if field.description:
            lines += [field.description, ""]
        if not inner:
            lines += _table([Key(name, field)])
            continue
        for model in inner:
            doc = section_doc(model)
            variant = variant_of(model) if len(inner) > 1 else None
            if variant:
                lines += [f"### `{name}.type: {variant}`", ""]
            if doc:
                lines += [doc, ""]
            prefix = name + ("[]." if is_sequence(field.annotation) else ".")
            lines += _table(list(walk(model, prefix, variant)))
    return "\n".join(lines).rstrip() + "\n"


def _table(keys: list[Key]) -> list[str]:
    rows = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key in keys:
        meaning = (key.field.description or _implied_meaning(key)).replace("|", "\\|")
        row = [f"`{key.path}`", type_name(key.field.annotation), default_text(key.field), bounds(key.field), meaning]
        rows.append("| " + " | ".join(row) + " |")
    return rows + [""]


def _implied_meaning(key: Key) -> str:
    if key.variant is not None and key.path.endswith(".type"):
        return f"Selects the `{key.variant}` backend; the keys below belong to it."
    return ""


def render_yaml() -> str:
    lines = [
        "# deepfake-monitor configuration: every key with its default.",
        "# Reference with types and bounds: docs/config.md. Unknown keys are errors.",
        "",
    ]
    for name, field in Config.model_fields.items():
        inner = nested_models(field.annotation)
        default = field.get_default(call_default_factory=True)
        if field.description:
            lines.append(f"# {field.description}")
        if not inner:
            lines += [f"{name}: {_yaml_inline(default)}", ""]
            continue
        if is_sequence(field.annotation):
            lines += _yaml_list_example(name, inner[0], default)
            continue
        lines.append(f"{name}:")
        active = type(default) if isinstance(default, BaseModel) else inner[0]
        lines += _yaml_fields(active, default, "  ")
        for other in (m for m in inner if m is not active):
            lines.append(f"  # or, with type: {variant_of(other)}")
            lines += ["  # " + line.strip() for line in _yaml_fields(other, None, "")]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _yaml_fields(model: type[BaseModel], value: BaseModel | None, indent: str) -> list[str]:
    lines = []
    for name, field in model.model_fields.items():
        if name == "type" and variant_of(model):
            lines.append(f"{indent}# Which backend; each has its own keys (see docs/config.md).")
        if field.description:
            extra = bounds(field)
            lines.append(f"{indent}# {field.description}" + (f" ({extra})" if extra else ""))
        if value is not None:
            current = getattr(value, name)
        elif field.default is PydanticUndefined:
            current = "REQUIRED"
        else:
            current = field.get_default(call_default_factory=True)
        lines.append(f"{indent}{name}: {_yaml_inline(current)}")
        inner = nested_models(field.annotation)
        if inner and current in (None, (), []):
            lines += _commented_example(name, inner[0], indent, is_sequence(field.annotation))
    return lines


def _commented_example(name: str, model: type[BaseModel], indent: str, sequence: bool) -> list[str]:
    """An empty list or an unset section still shows its keys, commented out, with their defaults."""
    lines = [f"{indent}# for example:", f"{indent}# {name}:"]
    for i, (field_name, field) in enumerate(model.model_fields.items()):
        example = "REQUIRED" if field.default is PydanticUndefined else _yaml_inline(field.get_default())
        marker = ("  - " if i == 0 else "    ") if sequence else "  "
        note = f"  # {field.description}" if field.description else ""
        lines.append(f"{indent}# {marker}{field_name}: {example}{note}")
    return lines


def _yaml_list_example(name: str, model: type[BaseModel], default: Any) -> list[str]:
    lines = [f"{name}: {_yaml_inline(default)}", "# for example:", f"# {name}:"]
    for i, (field_name, field) in enumerate(model.model_fields.items()):
        example = "REQUIRED" if field.default is PydanticUndefined else _yaml_inline(field.get_default())
        marker = "  - " if i == 0 else "    "
        lines.append(f"# {marker}{field_name}: {example}" + (f"  # {field.description}" if field.description else ""))
    return lines + [""]


def _yaml_inline(value: Any) -> str:
    if value is None:
        return "null"
    text = yaml.safe_dump(yaml_value(value), default_flow_style=True, width=1000, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def main() -> None:
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(render_markdown())
    CONFIG_YAML.write_text(render_yaml())
    print(f"wrote {DOCS.relative_to(ROOT)} and {CONFIG_YAML.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
