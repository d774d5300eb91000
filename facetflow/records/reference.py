"""Markdown reference pages generated from the record models, so the documentation of a
document (``summary.json``, ``manifest.json``) cannot drift from the code that writes it.

``summary_reference()`` is the generated part of docs/summary.md (the docs hook puts it
where the page says ``<!-- facetflow:summary-reference -->``); ``manifest_reference()``
likewise for ``structures/manifest.json``.
"""

from __future__ import annotations

import inspect
import types
import typing
from enum import Enum

from pydantic import BaseModel


def summary_reference() -> str:
    """Markdown: one table per model of ``summary.json``, the document first."""
    from facetflow.records.summary import SUMMARY_SCHEMA, Summary

    return (f"Schema name: `{SUMMARY_SCHEMA}` (the `schema` field); a summary of another "
            "schema is refused when read.\n\n" + model_tables(Summary))


def manifest_reference() -> str:
    """Markdown: the tables of ``structures/manifest.json``."""
    from facetflow.records.structure import MANIFEST_SCHEMA, Manifest

    return (f"Schema name: `{MANIFEST_SCHEMA}`; a manifest of another schema is refused "
            "when read.\n\n" + model_tables(Manifest))


def model_tables(root: type[BaseModel]) -> str:
    """One section per model reachable from ``root`` (breadth first): its docstring's
    first paragraph and a table of its fields (name, type, description)."""
    order = [root]
    out: list[str] = []
    i = 0
    while i < len(order):
        model = order[i]
        i += 1
        for fld in model.model_fields.values():
            for sub in _models_in(fld.annotation):
                if sub not in order:
                    order.append(sub)
        out.append(_section(model))
    return "\n".join(out)


def _section(model: type[BaseModel]) -> str:
    doc = inspect.getdoc(model) or ""
    lines = [f"### `{model.__name__}` {{ #{_anchor(model)} }}", "",
             doc.split("\n\n")[0].replace("\n", " "), "",
             "| field | type | description |", "|---|---|---|"]
    for name, fld in model.model_fields.items():
        key = fld.alias or name
        text = (fld.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{key}` | {_type_name(fld.annotation)} | {text} |")
    return "\n".join(lines) + "\n"


def _anchor(model: type) -> str:
    """The section id of a model (``attr_list``): ``model-<name>``."""
    return "model-" + model.__name__.lower()


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models named in a field's annotation (inside lists, dicts, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: object) -> str:
    """A readable type: ``list[GammaPoint]`` with models linked, ``null`` for None."""
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))
