"""The ``facetflow`` command line.

Exit codes: 0 success; 2 invalid input (study or structure request), nothing written;
3 the requested engine cannot run here.
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
    name = engine or spec.engine.name
    _build(study, work / spec.name / "structures", pictures)
    err.print(f"[yellow]engine {name!r} not available yet:[/] the calculation engines are "
              "being built (see the engines issue); structures are in "
              f"{work / spec.name / 'structures'}")
    raise typer.Exit(EXIT_ENGINE)


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
