"""MkDocs hooks: reference pages generated from the code at build time, so they cannot drift.

A page holds a marker where generated Markdown goes (``on_page_markdown`` replaces it):

``<!-- facetflow:study-reference -->``
    every field of the study file, walked recursively from ``facetflow.study.Study``:
    name, type (with its limits), default and description.
``<!-- facetflow:engine-settings -->``
    every setting of every engine (``facetflow.engines.settings``) with the preset values
    of ``facetflow/presets/<engine>.yaml`` and the presets' comments.
``<!-- facetflow:cli-reference -->``
    every ``facetflow`` command and option, from the command-line app itself.
``<!-- facetflow:include PATH -->``
    the Markdown file PATH (relative to the repository root) without its first heading.

A marker that cannot be filled fails the build (``mkdocs build --strict`` is what the
tests run). Descriptions come from the code: ``Field(description=...)``, else the string
under the field (attribute docstring), else the sentences of the model's docstring that
name the field in double backticks.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import sys
import textwrap
import types
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUDY_MARKER = "<!-- facetflow:study-reference -->"
SETTINGS_MARKER = "<!-- facetflow:engine-settings -->"
CLI_MARKER = "<!-- facetflow:cli-reference -->"
SUMMARY_MARKER = "<!-- facetflow:summary-reference -->"
INCLUDE = re.compile(r"<!-- facetflow:include (\S+) -->")


def on_config(config, **kwargs):
    """Import facetflow from this checkout, whatever the working directory."""
    root = Path(config.config_file_path).resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return config


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if STUDY_MARKER in markdown:
        markdown = markdown.replace(STUDY_MARKER, study_reference())
    if SETTINGS_MARKER in markdown:
        markdown = markdown.replace(SETTINGS_MARKER, engine_settings())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if SUMMARY_MARKER in markdown:
        from facetflow.records.reference import summary_reference

        markdown = markdown.replace(SUMMARY_MARKER, summary_reference())
    return INCLUDE.sub(lambda m: _include(m.group(1)), markdown)


def _include(rel: str) -> str:
    path = ROOT / rel
    if not path.is_file():
        raise FileNotFoundError(f"facetflow:include: {path} not found")
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip() + "\n"


# --- study reference -------------------------------------------------------------------

def study_reference() -> str:
    """Markdown: one section per model of the study file, one table row per field."""
    from facetflow.study import Study

    _check_fallback()
    sections: list[tuple[str, str, type]] = [("study", "top level", Study)]
    anchors = {Study: "study"}
    out: list[str] = []
    i = 0
    while i < len(sections):
        anchor, path, model = sections[i]
        i += 1
        for name, info in model.model_fields.items():
            for sub in _models_in(info.annotation):
                if sub not in anchors:
                    sub_path = name if path == "top level" else f"{path}.{name}"
                    if _is_list_of(info.annotation, sub):
                        sub_path += "[]"
                    anchors[sub] = re.sub(r"[^a-z0-9]+", "-", sub_path.lower()).strip("-")
                    sections.append((anchors[sub], sub_path, sub))
    for anchor, path, model in sections:
        title = "The study file (top level)" if model.__name__ == "Study" else f"`{path}`"
        out.append(f"## {title} {{#{anchor}}}\n")
        doc = _clean(model.__doc__) if model.__doc__ and model.__name__ != "Study" else ""
        if doc:
            out.append(doc + "\n")
        out.append("| field | type | default | description |")
        out.append("| --- | --- | --- | --- |")
        for name, info in model.model_fields.items():
            typ = _type(info.annotation, anchors) + _constraints(info.metadata)
            out.append(f"| `{name}` | {_cell(typ)} | {_cell(_default(info))} | "
                       f"{_cell(_describe(model, name, info))} |")
        out.append("")
    return "\n".join(out)


def _models_in(annotation) -> list[type]:
    from pydantic import BaseModel

    found = []
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _is_list_of(annotation, model) -> bool:
    origin = typing.get_origin(annotation)
    if origin is list:
        return any(model in _models_in(a) for a in typing.get_args(annotation))
    return any(_is_list_of(a, model) for a in typing.get_args(annotation))


SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean",
           type(None): "null", typing.Any: "any"}


def _type(annotation, anchors: dict) -> str:
    from pydantic import BaseModel

    if annotation in SCALARS:
        return SCALARS[annotation]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        anchor = anchors.get(annotation)
        return f"[mapping](#{anchor})" if anchor else "mapping"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        base, *meta = args
        return _type(base, anchors) + _constraints(meta)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{json.dumps(a)}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a, anchors) for a in args)
    if origin is list:
        return f"list of {_type(args[0], anchors)}" if args else "list"
    if origin is dict:
        if not args:
            return "mapping"
        return f"mapping {_type(args[0], anchors)} → {_type(args[1], anchors)}"
    if origin is tuple:
        return "[" + ", ".join(_type(a, anchors) for a in args) + "]"
    if annotation is dict:
        return "mapping"
    if annotation is list:
        return "list"
    return getattr(annotation, "__name__", str(annotation))


CONSTRAINT_NAMES = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "min_length": "length ≥",
                    "max_length": "length ≤", "pattern": "matches"}


def _constraints(metadata) -> str:
    parts = []
    for m in metadata:
        items = []
        if hasattr(m, "metadata"):  # a FieldInfo inside Annotated[...]
            return _constraints(m.metadata)
        for key, sym in CONSTRAINT_NAMES.items():
            value = getattr(m, key, None)
            if value is not None:
                items.append(f"{sym} `{value}`")
        parts += items
    return f" ({', '.join(parts)})" if parts else ""


def _default(info) -> str:
    from pydantic import BaseModel

    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see its fields"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _describe(model, name: str, info) -> str:
    if info.description:
        return _clean(info.description)
    for cls in model.__mro__:
        doc = _attribute_docstrings(cls).get(name)
        if doc:
            return doc
    if (model.__name__, name) in FALLBACK:
        return FALLBACK[(model.__name__, name)]
    picked = [s for s in _sentences(_clean(model.__doc__ or "")) if f"`{name}`" in s]
    text = " ".join(picked)
    prefix = f"`{name}`: "
    if text.startswith(prefix):
        text = text[len(prefix):]
        text = text[:1].upper() + text[1:]
    return text


def _sentences(text: str) -> list[str]:
    """Split at sentence ends, not after abbreviations such as "e.g."."""
    pieces = re.split(r"(?<=[.;])\s+(?=[A-Z`(])", text)
    out: list[str] = []
    for piece in pieces:
        if out and re.search(r"\b(e\.g|i\.e|cf|etc)\.$", out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


# Descriptions of fields whose code has none yet (checked: a stale entry fails the build).
FALLBACK = {
    ("Study", "name"): "The study's name: the work directory is `WORK/<name>`.",
    ("Study", "description"): "Free text, copied into the report.",
    ("Study", "core"): "The core material.",
    ("Study", "shell"): "The epitaxial shell (none: bare core facets).",
    ("Study", "slab"): "Slab defaults for every facet.",
    ("Study", "facets"): "The facets, one slab model each.",
    ("Study", "ligands"): "Ligands swept over coverages on every facet.",
    ("Study", "custom_ligands"): "Ligands defined by an XYZ file instead of the library.",
    ("Study", "variants"): "Additives that replace one ligand of an arrangement.",
    ("Study", "binding"): "Where binding structures are built.",
    ("Study", "enumeration"): "How many arrangements and replacement positions are kept.",
    ("Study", "engine"): "The calculation engine and its settings (see Engines).",
    ("Study", "workflow"): "How the plan is made and run.",
    ("Study", "analysis"): "Extra analysis: Δμ sweeps, comparison with a paper.",
    ("Study", "conditions"): "Synthesis temperature and chemical-potential limit.",
    ("Study", "defects"): "Point defects at the surface of symmetric slabs.",
    ("CoreSpec", "material"): "A compound of `facetflow/data/materials.yaml`.",
    ("ShellSpec", "material"): "A compound of `facetflow/data/materials.yaml`.",
    ("ShellSpec", "monolayers"): "Shell thickness in monolayers.",
    ("ShellSpec", "termination"): "Outer plane: `cation`, `anion`, `stoichiometric` or a "
                                  "plane formula; default cation.",
    ("SlabDefaults", "monolayers"): "Slab thickness in monolayers (ML).",
    ("SlabDefaults", "vacuum"): "Vacuum thickness along the normal, Å.",
    ("SlabDefaults", "fixed_monolayers"): "Monolayers held fixed (bottom of an asymmetric "
                                          "slab, centre of a symmetric one); default half.",
    ("FacetSpec", "miller"): "Miller indices in the conventional cell.",
    ("FacetSpec", "supercell"): "`[n1, n2]` or a 2×2 integer matrix on the reduced 1×1 "
                                "surface cell.",
    ("FacetSpec", "monolayers"): "Overrides `slab.monolayers`.",
    ("FacetSpec", "vacuum"): "Overrides `slab.vacuum` (Å).",
    ("FacetSpec", "symmetric"): "Two identical faces (default) or, `false`, a pseudo-H "
                                "passivated bottom and one active face (default for polar "
                                "{111} of tetrahedral materials).",
    ("FacetSpec", "termination"): "`cation`, `anion`, `stoichiometric` or a plane formula "
                                  "(`PbI2`).",
    ("FacetSpec", "fixed_monolayers"): "Overrides `slab.fixed_monolayers`.",
    ("FacetSpec", "coverages"): "Per-ligand override of the swept coverages θ on this facet.",
    ("FacetSpec", "modes"): "Binding mode per species on this facet (`atop`, `bridging`, "
                            "`chelating`, `monodentate`).",
    ("FacetSpec", "growth_species"): "Growth species bound at θ* (e.g. `Se`, `ZnSe`).",
    ("FacetSpec", "name"): "Label of the facet in structure ids, `summary.json` and the "
                           "report (default: the Miller indices, `100`); lets one Miller "
                           "index appear twice with two terminations.",
    ("LigandSpec", "mode"): "Forces one binding mode (default: the ligand's preferred "
                            "modes).",
    ("LigandSpec", "replaces"): "An element of the outermost plane; each ligand takes the "
                                "place of one such surface atom (removed), θ counts "
                                "replaced atoms per surface cation.",
    ("LigandSpec", "facets"): "Facet labels where the ligand is swept (default: every "
                              "facet).",
    ("VariantSpec", "replace_with"): "The additive put in place of one ligand (`F`, `HF`, "
                                     "a library or custom ligand).",
    ("BindingSpec", "coverages"): "`optimal`: at θ* of each facet and ligand (second "
                                  "stage); or a list of coverages θ (built up front).",
    ("EnumerationSpec", "max_configurations"): "Symmetry-unique arrangements kept per "
                                               "coverage, most uniform first.",
    ("EnumerationSpec", "max_replacements"): "Symmetry-unique replacement positions kept "
                                             "per arrangement (variants, binding "
                                             "structures).",
    ("EngineSpec", "prerelax"): "`mlip`: relax every slab with the ML potential first; the "
                                "engine's calculation starts from there.",
    ("EngineSpec", "final_task"): "`relax`, or `single`: a single point at the "
                                  "pre-relaxed geometry (slabs only; needs `prerelax`).",
    ("DefectsSpec", "layers"): "Atomic planes from the top searched for positions.",
    ("LigandSpec", "name"): "A ligand of `facetflow/data/ligands.yaml` or of "
                            "`custom_ligands`.",
    ("LigandSpec", "coverages"): "Coverages θ (ligands per surface cation) of the sweep.",
    ("CustomLigandSpec", "name"): "The name used in `ligands`, `variants` and results.",
    ("CustomLigandSpec", "file"): "XYZ file of the free molecule, relative to the study "
                                  "file.",
    ("CustomLigandSpec", "anchors"): "0-based indices of the one or two atoms that bind.",
    ("CustomLigandSpec", "kind"): "Covalent bond classification: X, L, Z, X2, or a growth "
                                  "species.",
    ("CustomLigandSpec", "charge"): "Formal charge once bound (electron counting).",
    ("CustomLigandSpec", "footprint"): "Surface cations one ligand occupies (θ·footprint "
                                       "≤ 1).",
    ("CustomLigandSpec", "modes"): "Binding modes, preferred first.",
    ("CustomLigandSpec", "anchor_species"): "What the anchors bind to.",
    ("CustomLigandSpec", "reference"): "Reference reaction for μ: molecule → coefficient "
                                       "(e.g. `{CH3COOH: 1, H2: -0.5}`); the ligand's own "
                                       "name computes its molecule in a box.",
    ("VariantSpec", "coverages"): "Coverages at which the replacement is made.",
    ("EngineSpec", "name"): "The engine.",
    ("EngineSpec", "settings"): "Engine settings over the presets, checked against the "
                                "engine's settings model (see Engines); a `bulk:`, `slab:` "
                                "or `molecule:` mapping applies to that purpose only.",
    ("WorkflowSpec", "start_rotation"): "Largest turn of an adsorbate about the surface "
                                        "normal in starts j ≥ 1, degrees.",
    ("WorkflowSpec", "start_rattle"): "Random displacement of free atoms in starts j ≥ 1, Å.",
    ("DefectsSpec", "facets"): "Facet labels that get defects (default: every facet; all "
                               "must be symmetric).",
    ("DefectsSpec", "max_sites"): "Symmetry-unique positions kept per kind.",
    ("DefectsSpec", "ligands"): "Ligands bound next to each defect (passivation effect).",
    ("DefectsSpec", "limits"): "Chemical-potential limits in which E_f is reported.",
    ("ConditionsSpec", "temperature_C"): "Synthesis temperature, °C (growth model).",
    ("ConditionsSpec", "limit"): "Chemical-potential limit of the core and shell elements.",
}


def _check_fallback() -> None:
    """A fallback entry for a field that no longer exists is an error, not silent drift."""
    from facetflow.records import study

    for (cls, field), _ in FALLBACK.items():
        model = getattr(study, cls, None)
        if model is None or field not in model.model_fields:
            raise KeyError(f"docs/hooks.py FALLBACK names {cls}.{field}, which "
                           "facetflow.records.study does not have")


def _attribute_docstrings(cls) -> dict[str, str]:
    """``name: type = value`` followed by a string literal, as pydantic's
    ``use_attribute_docstrings`` reads them."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for a, b in zip(body, body[1:], strict=False):
        if (isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name)
                and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant)
                and isinstance(b.value.value, str)):
            docs[a.target.id] = _clean(b.value.value)
    return docs


def _clean(text: str) -> str:
    """One paragraph of Markdown from a docstring (reST double backticks to single)."""
    text = " ".join(inspect.cleandoc(text).split())
    text = re.sub(r"(?<=[a-z])- (?=[a-z])", "-", text)  # a word hyphenated at a line end
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    parts = text.split("`")  # even indices: outside code spans
    for k in range(0, len(parts), 2):
        parts[k] = (parts[k].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("*", "\\*").replace("[", "\\["))
    return "`".join(parts)


def _cell(text: str) -> str:
    """A table cell: a pipe outside code spans is escaped (inside them it is kept)."""
    parts = text.replace("\n", " ").split("`")
    for k in range(0, len(parts), 2):
        parts[k] = parts[k].replace("|", "\\|")
    return "`".join(parts)


# --- engine settings ---------------------------------------------------------------------

def engine_settings() -> str:
    """Markdown: per engine, every setting with its allowed values and preset values."""
    import yaml

    from facetflow.engines.presets import PURPOSES
    from facetflow.engines.settings import SETTINGS_MODELS

    out = []
    for engine, model in SETTINGS_MODELS.items():
        preset_file = ROOT / "facetflow" / "presets" / f"{engine}.yaml"
        text = preset_file.read_text()
        preset = yaml.safe_load(text) or {}
        comments = _yaml_comments(text)
        out.append(f"### `{engine}` settings {{#settings-{engine}}}\n")
        if model.__doc__:
            out.append(_clean(model.__doc__) + "\n")
        out.append("| setting | allowed | preset | note |")
        out.append("| --- | --- | --- | --- |")
        for name, info in model.model_fields.items():
            allowed = _type(info.annotation, {}) + _constraints(info.metadata)
            allowed = allowed.replace(" or null", "").replace("null or ", "")
            values = []
            common = preset.get("common", {})
            if name in common:
                values.append(f"`{json.dumps(common[name])}`")
            for purpose in PURPOSES:
                section = preset.get(purpose) or {}
                if name in section:
                    values.append(f"{purpose}: `{json.dumps(section[name])}`")
            note = comments.get(("common", name)) or next(
                (comments[(p, name)] for p in PURPOSES if (p, name) in comments), "") \
                or _source_comment(model, name)
            out.append(f"| `{name}` | {_cell(allowed)} | {_cell(', '.join(values) or '—')} "
                       f"| {_cell(note)} |")
        out.append("")
    return "\n".join(out)


def _source_comment(model, name: str) -> str:
    """The comment at the end of a field's line in the settings model (or a base class)."""
    for cls in model.__mro__:
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        m = re.search(rf"^\s+{re.escape(name)}:[^#\n]*#\s*(.+)$", source, re.M)
        if m:
            return m.group(1).strip()
    return ""


def _yaml_comments(text: str) -> dict[tuple[str, str], str]:
    """(section, key) -> the comment at the end of that line of a preset file."""
    found, section = {}, ""
    for line in text.splitlines():
        top = re.match(r"^(\w+):", line)
        if top:
            section = top.group(1)
            continue
        m = re.match(r"^\s+(\w+):.*?\s#\s*(.+)$", line)
        if m:
            found[(section, m.group(1))] = m.group(2).strip()
    return found


# --- command line ------------------------------------------------------------------------

def cli_reference() -> str:
    """Markdown: every command of ``facetflow`` with its arguments and options, read from
    the Typer app's registered callbacks (their signatures and ``typer.Option`` /
    ``typer.Argument`` defaults)."""
    from facetflow.cli import app

    out = []
    main = getattr(app, "registered_callback", None)
    if main is not None and main.callback is not None:
        rows = _params_table(main.callback)
        if len(rows) > 1:
            out.append("## Options of every command\n")
            out.append("`facetflow [OPTIONS] COMMAND ...`\n")
            out += rows
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        out.append(f"## `facetflow {name}`\n")
        doc = info.help or info.callback.__doc__
        if doc:
            out.append(_clean(doc) + "\n")
        out += _params_table(info.callback, usage=f"facetflow {name}")
    return "\n".join(out)


def _params_table(callback, usage: str | None = None) -> list[str]:
    from typer.models import ArgumentInfo, OptionInfo

    hints = typing.get_type_hints(callback)
    rows, args = [], []
    for pname, param in inspect.signature(callback).parameters.items():
        info = param.default
        if not isinstance(info, ArgumentInfo | OptionInfo):
            continue
        typ = _cli_type(hints.get(pname))
        if getattr(info, "count", False):
            typ = "flag, repeatable"
        required = info.default is ... or info.default is Ellipsis
        if isinstance(info, ArgumentInfo):
            names = f"`{pname.upper()}`"
            args.append(pname.upper() if required else f"[{pname.upper()}]")
        else:
            decls = [d for d in (info.param_decls or ()) if d.startswith("-")]
            if not decls:
                flag = "--" + pname.replace("_", "-")
                decls = [f"{flag}/--no-{flag[2:]}"] if typ == "flag" and info.default is True \
                    else [flag]
            names = ", ".join(f"`{d}`" for d in decls)
        if required:
            default = "required"
        elif info.default in (None, False, (), []) or typ.startswith("flag"):
            default = "—" if info.default is not True else "on"
        else:
            default = f"`{info.default}`"
        rows.append(f"| {names} | {_cell(typ)} | {_cell(default)} | "
                    f"{_cell(_clean(info.help or ''))} |")
    head = [f"`{usage} [OPTIONS] {' '.join(args)}`".replace(" `", "`") + "\n"] if usage else []
    if not rows:
        return head
    return [*head, "| argument / option | type | default | description |",
            "| --- | --- | --- | --- |", *rows, ""]


def _cli_type(annotation) -> str:
    if annotation is bool:
        return "flag"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [_cli_type(a) for a in args if a is not type(None)]
        return " or ".join(kinds)
    if origin is list:
        return f"{_cli_type(args[0])}, repeatable" if args else "repeatable"
    return {str: "text", int: "integer", float: "number", Path: "path"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))
