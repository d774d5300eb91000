"""The ``facetflow`` command line.

Exit codes: 0 success; 2 invalid input (study or structure request), nothing written;
3 the requested engine cannot run here; 4 a calculation failed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from facetflow import __version__
from facetflow.errors import SpecError, StructureError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Quantum-dot facet energetics: slabs, ligand coverages, interfacial "
                       "and binding energies, growth anisotropy.")
err = Console(stderr=True)
out = Console()

EXIT_INVALID = 2
EXIT_ENGINE = 3
EXIT_CALC = 4


def _load(study_path: Path):
    from facetflow.study import load_study

    return load_study(study_path)


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(EXIT_INVALID)


@app.command()
def validate(study: Path = typer.Argument(..., help="study YAML file")) -> None:
    """Check a study file (spec and structures) without writing anything."""
    from facetflow.structures.catalog import build_catalog

    try:
        spec = _load(study)
        records = build_catalog(spec, study.parent)
    except (SpecError, StructureError) as exc:
        _fail(exc)
    out.print(f"{study}: valid, {len(records)} structures")


@app.command()
def build(study: Path = typer.Argument(..., help="study YAML file"),
          out_dir: Path = typer.Option(..., "--out", help="folder for structures and manifest"),
          pictures: bool = typer.Option(True, help="write a PNG picture of each structure"),
          ) -> None:
    """Build every structure of a study: DIR/structures/*.extxyz, DIR/pictures/*.png and
    DIR/manifest.json. Nothing is written if the study is invalid."""
    _build(study, out_dir, pictures)


def _build(study: Path, out_dir: Path, pictures: bool) -> list:
    from facetflow.structures.catalog import build_catalog
    from facetflow.structures.export import write_build

    t0 = time.perf_counter()
    try:
        spec = _load(study)
        records = build_catalog(spec, study.parent)
    except (SpecError, StructureError) as exc:
        _fail(exc)
    manifest = write_build(records, out_dir, pictures=pictures,
                           meta={"study": spec.name, "facetflow": __version__})
    counts: dict[str, int] = {}
    for r in records:
        counts[r.role] = counts.get(r.role, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    out.print(f"built {len(records)} structures ({summary}) in "
              f"{time.perf_counter() - t0:.1f} s -> {manifest}")
    return records


@app.command()
def run(study: Path = typer.Argument(..., help="study YAML file"),
        work: Path = typer.Option(Path("work"), help="work directory root; the study runs "
                                  "in WORK/<study name>"),
        engine: str | None = typer.Option(None, help="override the study's engine"),
        pictures: bool = typer.Option(True, help="write PNG pictures of the structures"),
        ) -> None:
    """Run a whole study: build the structures, calculate, analyse, report."""
    try:
        spec = _load(study)
    except SpecError as exc:
        _fail(exc)
    from facetflow.study import ENGINES

    name = engine or spec.engine.name
    if name not in ENGINES:
        _fail(SpecError.single("--engine", "unknown engine", name, ENGINES))
    _build(study, work / spec.name / "structures", pictures)
    err.print(f"[yellow]the {name!r} engine is installed, but the workflow that runs a whole "
              "study is not available yet[/] (workflows issue). Structures are in "
              f"{work / spec.name / 'structures'}; run single calculations with "
              "`facetflow calc FILE --engine NAME`.")
    raise typer.Exit(EXIT_ENGINE)


@app.command()
def engines() -> None:
    """List every engine, whether it can run here, and why not."""
    from rich.table import Table

    from facetflow.engines import engine_table

    table = Table("engine", "usable", "details")
    for name, ok, why in engine_table():
        table.add_row(name, "yes" if ok else "no", why)
    out.print(table)


@app.command()
def calc(structure: Path = typer.Argument(..., help="structure file (extxyz, POSCAR, ...)"),
         engine: str = typer.Option("mlip", help="engine name (see facetflow engines)"),
         relax: bool = typer.Option(False, "--relax", help="relax instead of single point"),
         fmax: float | None = typer.Option(None, help="force threshold, eV/Å"),
         purpose: str | None = typer.Option(None, help="preset: bulk, slab or molecule "
                                            "(default: guessed from the structure)"),
         as_json: bool = typer.Option(False, "--json", help="print the JSON result record"),
         ) -> None:
    """Run one calculation and print its result record."""
    import json

    from ase.io import read

    from facetflow.engines import get_engine
    from facetflow.engines.base import CalcError, EngineUnavailable, purpose_of, settings_for

    try:
        atoms = read(structure)
    except Exception as exc:  # noqa: BLE001 - report any reader failure the same way
        _fail(SpecError.single("structure", f"cannot read: {exc}", str(structure)))
    try:
        eng = get_engine(engine)
        ok, why = eng.available()
        if not ok:
            raise EngineUnavailable(engine, why)
        settings = settings_for(engine, purpose or purpose_of(atoms),
                                {"fmax": fmax} if fmax is not None else None)
        result = eng.run(atoms, "relax" if relax else "single", settings)
    except EngineUnavailable as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_ENGINE) from None
    except CalcError as exc:
        err.print(f"[bold red]calculation failed:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_CALC) from None
    if as_json:
        print(json.dumps(result.to_dict(), default=float))
        return
    out.print(f"engine   {result.engine} ({result.provenance.get('model', '')})")
    out.print(f"task     {result.task}, converged: {result.converged}")
    out.print(f"energy   {result.energy:.6f} eV ({len(atoms)} atoms)")
    out.print(f"fmax     {result.fmax:.4f} eV/Å after {result.steps} steps, "
              f"{result.scf_cycles} SCF cycles, {result.wall_time:.1f} s")
    for w in result.warnings:
        out.print(f"[yellow]warning[/] {w}")


@app.command()
def version() -> None:
    """Print the facetflow version."""
    out.print(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
