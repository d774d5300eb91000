"""What each engine's settings may be: one pydantic model per engine, and the resolved
settings an engine runs with.

The defaults live in ``facetflow/presets/<engine>.yaml``; these models say which keys an
engine reads and what values they may take, so that a study's ``engine.settings`` (and
the presets themselves, checked by the tests) are refused up front, with the key, the
value and what is allowed, instead of failing hours later inside a queued calculation.
Every field is optional here: a missing key takes the preset's value. A key that the
``common`` preset section leaves out has its default here, the value for every purpose
whose section does not say otherwise (``relax_cell: false``, bulk ``true``; GPAW's
``mode``, and ``h`` and ``basis`` of its LCAO mode); a test checks that no key has both a
default here and a ``common`` value.

``resolve_settings(engine, purpose, settings)`` is the preset for a purpose overridden by
``settings``, validated. ``run_settings(engine, atoms, settings)`` is what an engine runs
with: settings already resolved for a purpose by their caller (they hold every ``common``
key, as the plan's do) are only validated, since the caller knows the purpose better
than a guess from the structure; fewer keys (``{}``, a few overrides) are completed from
the preset for ``purpose_of(atoms)``. So an engine called with ``{}`` behaves exactly as
its preset says.

Fields marked ``physical=False`` (``NonPhysical``) change where or how fast a calculation
runs, not its result; ``physical_settings`` leaves them out of calculation hashes, so a
new scratch folder or thread count does not recompute anything.

Units are the engine's own (see each preset file): fmax in eV/Å everywhere; VASP encut
in eV, QE ecutwfc in Ry, CP2K cutoff in Ry, GPAW ecut in eV.

Settings may be plain keys (for every purpose) or a mapping under a purpose name
(``bulk``, ``slab``, ``molecule``) that applies to that purpose only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from facetflow.engines.presets import PURPOSES, common_keys, purpose_of, settings_for
from facetflow.errors import Problem, SpecError
from facetflow.records.calc import ENGINE_NAMES

Positive = Field(default=None, gt=0)
Fraction = Field(default=None, gt=0, le=1)
Count = Field(default=None, ge=1)
NonNegative = Field(default=None, ge=0)
Dipole = Literal["auto"] | bool
NOT_PHYSICAL = {"physical": False}


def NonPhysical(**kwargs: Any) -> Any:  # noqa: N802 - named and used like pydantic's Field
    """A field that changes where or how fast a calculation runs, not its result."""
    return Field(default=None, json_schema_extra=NOT_PHYSICAL, **kwargs)


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # YAML gives typed values

    require_convergence: bool | None = None
    relax_cell: bool | None = False  # relax the cell too (bulk references)
    fmax: float | None = Positive
    workdir: str | None = NonPhysical()  # keep the engine's files here, not in a temporary folder


class _DftSettings(_Settings):
    command: str | None = NonPhysical()
    max_steps: int | None = Count
    scf_retries: int | None = NonNegative
    dipole_correction: Dipole | None = None


class MlipSettings(_Settings):
    """The embedded ML potential (``mlip.yaml``)."""

    model: str | None = None  # a model of mlip_models.MODELS, or a fine-tuned model file
    optimizer: Literal["LBFGS", "FIRE", "BFGS"] | None = None
    h0: Literal["scaled", "fixed"] | None = None
    maxstep: float | None = Field(default=None, gt=0, le=2.0)
    max_steps: int | None = Count
    workers: Literal["auto"] | int | None = NonPhysical()
    threads: int | None = NonPhysical(ge=1)
    batch_atoms: int | None = NonPhysical(ge=1)
    device: str | None = NonPhysical()

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str | None) -> str | None:
        from facetflow.engines.mlip_models import FINETUNED_SUFFIXES, MODELS, is_model_file

        if v is None or v in MODELS:
            return v
        if not is_model_file(v):
            raise ValueError(f"unknown model {v!r}; allowed: {', '.join(MODELS)}, or a "
                             "fine-tuned model file ("
                             f"{', '.join('*' + x for x in FINETUNED_SUFFIXES)}, written by "
                             "facetflow finetune)")
        if not Path(v).is_file():
            raise ValueError(f"model file {v} not found")
        return v

    @field_validator("workers")
    @classmethod
    def _workers(cls, v: str | int | None) -> str | int | None:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be 'auto' or a whole number >= 1")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"cpu|cuda(:\d+)?|mps", v):
            raise ValueError("must be cpu, cuda, cuda:N or mps")
        return v


class VaspSettings(_DftSettings):
    """VASP through custodian (``vasp.yaml``); ``incar`` holds any further INCAR tags."""

    potcar_functional: str | None = None
    encut: float | None = Positive
    ediff: float | None = Positive
    ediffg: float | None = None  # negative: force criterion (eV/Å), VASP's convention
    ispin: Literal[1, 2] | None = None
    ismear: int | None = Field(default=None, ge=-5)
    sigma: float | None = Positive
    nsw: int | None = NonNegative
    isif: int | None = Field(default=None, ge=0, le=7)
    reciprocal_density: float | None = Positive
    k_product: float | None = Positive
    gamma_only: bool | None = False  # Gamma point only (molecules)
    max_errors: int | None = NonPhysical(ge=0)
    walltime: float | None = NonPhysical(gt=0)
    incar: dict[str, Any] | None = None
    allow_potcar_spec: bool | None = None
    electronic: bool | None = None  # LORBIT = 11, LVHAR: projections and LOCPOT stored


class QeSettings(_DftSettings):
    """Quantum ESPRESSO pw.x (``qe.yaml``); cutoffs in Ry."""

    ecutwfc: float | None = Positive
    ecutrho_factor: float | None = Field(default=None, ge=1)
    kpt_density: float | None = NonNegative
    occupations: Literal["smearing", "fixed"] | None = None
    smearing: Literal["gaussian", "mv", "marzari-vanderbilt", "m-v", "cold", "mp",
                      "methfessel-paxton", "fd", "fermi-dirac"] | None = None
    degauss: float | None = Positive
    mixing_beta: float | None = Fraction
    conv_thr_per_atom: float | None = Positive
    electron_maxstep: int | None = Count
    etot_conv_thr: float | None = Positive
    pseudo_dir: str | None = NonPhysical()
    ld1_command: str | None = NonPhysical()


class Cp2kSettings(_DftSettings):
    """CP2K (``cp2k.yaml``); cutoffs in Ry, smearing as an electronic temperature in K."""

    data_dir: str | None = NonPhysical()
    basis: str | None = None
    cutoff: float | None = Positive
    rel_cutoff: float | None = Positive
    eps_scf: float | None = Positive
    max_scf: int | None = Count
    smearing_K: float | None = Positive
    mixing_alpha: float | None = Fraction
    periodic: Literal["XYZ", "XY", "NONE"] | None = "XYZ"  # Poisson solver periodicity
    threads: int | None = NonPhysical(ge=1)


class GpawSettings(_DftSettings):
    """GPAW (``gpaw.yaml``); plane-wave cutoff in eV, smearing width in eV (0: fixed)."""

    mode: Literal["pw", "lcao"] | None = "pw"  # pw: plane waves (ecut); lcao: basis, grid h
    ecut: float | None = Positive
    h: float | None = Field(default=0.2, gt=0)  # Å, real-space grid spacing (lcao mode)
    basis: str | None = "dzp"  # LCAO basis set of gpaw-data (lcao mode)
    kpt_density: float | None = NonNegative
    smearing: float | None = NonNegative
    mixer_beta: float | None = Fraction
    maxiter: int | None = Count
    optimizer: Literal["BFGS", "LBFGS", "FIRE"] | None = None
    electronic: bool | None = None  # also store eigenvalues, projections, potential


SETTINGS_MODELS: dict[str, type[_Settings]] = {
    "mlip": MlipSettings, "vasp": VaspSettings, "qe": QeSettings, "cp2k": Cp2kSettings,
    "gpaw": GpawSettings}
assert set(SETTINGS_MODELS) == set(ENGINE_NAMES), "one settings model per engine"


def resolve_settings(engine: str, purpose: str, settings: Mapping[str, Any] | None = None
                     ) -> _Settings:
    """The settings ``engine`` runs with for a structure of ``purpose``: its preset for
    that purpose overridden by ``settings`` (plain keys, or per-purpose mappings),
    validated. Raises ``SpecError`` naming each wrong key."""
    return _validated(engine, settings_for(engine, purpose, settings))


def run_settings(engine: str, atoms: Atoms, settings: Mapping[str, Any]) -> _Settings:
    """What ``engine`` runs ``atoms`` with: ``settings`` as they are when they hold every
    key of the ``common`` preset (resolved for a purpose by the caller, as the plan's
    are), else completed from the preset for ``purpose_of(atoms)``. Validated; raises
    ``SpecError`` naming each wrong key."""
    if common_keys(engine) <= set(settings):
        return _validated(engine, dict(settings))
    return resolve_settings(engine, purpose_of(atoms), settings)


def _validated(engine: str, settings: dict) -> _Settings:
    problems = settings_problems(engine, settings, "settings")
    if problems:
        raise SpecError(problems)
    return SETTINGS_MODELS[engine].model_validate(settings)


def _physical(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return not (isinstance(extra, dict) and extra.get("physical") is False)


@cache
def non_physical_settings(engine: str | None = None) -> frozenset[str]:
    """Keys of ``engine``'s settings (of every engine when None) that change where or how
    fast a calculation runs, not its result."""
    models = [SETTINGS_MODELS[engine]] if engine else list(SETTINGS_MODELS.values())
    return frozenset(name for model in models
                     for name, info in model.model_fields.items() if not _physical(info))


def physical_settings(settings: Mapping[str, Any], engine: str | None = None) -> dict:
    """``settings`` without the non-physical keys, sorted by key: what enters a
    calculation hash."""
    skip = non_physical_settings(engine)
    return {k: v for k, v in sorted(settings.items()) if k not in skip}


def settings_problems(engine: str, settings: dict, path: str = "engine.settings"
                      ) -> list[Problem]:
    """Everything wrong with ``settings`` for ``engine`` (empty when they are usable).

    Plain keys apply to every purpose; a ``bulk``/``slab``/``molecule`` key holds a
    mapping of settings for that purpose only."""
    model = SETTINGS_MODELS.get(engine)
    if model is None:
        return [Problem("engine.name", "unknown engine", engine, ", ".join(SETTINGS_MODELS))]
    problems: list[Problem] = []
    plain = {k: v for k, v in settings.items() if k not in PURPOSES}
    problems += _check(model, plain, path, engine)
    for purpose in PURPOSES:
        if purpose not in settings:
            continue
        section = settings[purpose]
        if not isinstance(section, dict):
            problems.append(Problem(f"{path}.{purpose}", f"settings for {purpose} "
                                    "calculations must be a mapping of setting: value",
                                    section))
            continue
        problems += _check(model, section, f"{path}.{purpose}", engine)
    return problems


def gpaw_problems(engine: str, settings: dict, purposes: tuple[str, ...] = PURPOSES,
                  path: str = "engine.settings") -> list[Problem]:
    """GPAW settings that cannot run, refused before anything runs: an LCAO basis that
    the installed gpaw-data does not ship, and ``relax_cell`` in LCAO mode (it computes
    no stress tensor) for any of ``purposes`` (those the study computes)."""
    if engine != "gpaw" or settings_problems(engine, settings, path):
        return []
    out = []
    for purpose in purposes:
        merged = settings_for("gpaw", purpose, settings)
        shipped = gpaw_basis_sets()
        basis = str(merged.get("basis"))
        reduced = re.fullmatch(r"(sz|szp|dz|dzp)\((.+)\)", basis)  # sz(dzp): part of dzp
        if merged.get("mode") == "lcao" and shipped and \
                (reduced.group(2) if reduced else basis) not in shipped:
            names = ", ".join(sorted(shipped))
            out.append(Problem(f"{path}.basis", "LCAO basis set not in the installed "
                               "gpaw-data", merged.get("basis"),
                               f"{names}, or a reduction of one such as sz({names})"))
            break
        if merged.get("mode") == "lcao" and merged.get("relax_cell"):
            out.append(Problem(f"{path}.{purpose}.relax_cell", "GPAW's LCAO mode has no "
                               "stress tensor, so it cannot relax the cell of "
                               f"{purpose} references", True,
                               f"relax_cell: false under {path}.{purpose}, or mode: pw"))
    return out


@cache
def gpaw_basis_sets() -> frozenset[str]:
    """Names of the LCAO basis sets the installed gpaw-data ships (``<El>.<name>.basis``;
    empty when gpaw-data is not installed, so nothing is refused on its account)."""
    try:
        import gpaw_data
    except ImportError:
        return frozenset()
    names = set()
    for f in Path(gpaw_data.__file__).parent.glob("setups/*.basis*"):
        parts = f.name.split(".")
        if "basis" in parts:  # skip the variants of one setup (Zn.v3.dzp, Cu.11.dzp)
            name = parts[1:parts.index("basis")]
            if not re.fullmatch(r"v?\d+", name[0]):
                names.add(".".join(name))
    return frozenset(names)


def _check(model: type[_Settings], values: dict, path: str, engine: str) -> list[Problem]:
    try:
        model.model_validate(values)
    except ValidationError as err:
        out = []
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"] if not _is_type_tag(x))
            key = loc.split(".")[0] if loc else ""
            if e["type"] == "extra_forbidden":
                known = sorted(model.model_fields)
                out.append(Problem(f"{path}.{key}", f"not a setting of the {engine} engine",
                                   None, ", ".join(known)))
                continue
            msg = e["msg"].removeprefix("Value error, ")
            where = f"{path}.{key}" if key else path
            out.append(Problem(where, msg, values.get(key, e.get("input"))))
        return _one_per_key(out)
    return []


def _is_type_tag(part: object) -> bool:
    """pydantic names union members in error locations (``int``, ``literal['auto']``)."""
    return isinstance(part, str) and (part in {"int", "float", "str", "bool", "dict"}
                                      or part.startswith(("literal[", "function-")))


def _one_per_key(problems: list[Problem]) -> list[Problem]:
    """A union field gives one error per member; keep the first for each key and join
    the messages, so a user reads one line per wrong setting."""
    merged: dict[str, Problem] = {}
    for p in problems:
        if p.path in merged:
            old = merged[p.path]
            if p.message not in old.message:
                merged[p.path] = Problem(p.path, f"{old.message}, or {p.message}", old.value,
                                         old.allowed)
        else:
            merged[p.path] = p
    return list(merged.values())
