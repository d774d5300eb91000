"""The analysis a workflow calls: an explicit, typed hook the top layer wires.

The workflow layer sits below the analysis, yet a run needs two of its functions: the
theta* arrangements that decide a study's second stage (binding structures), and the
report that ends a run. The command line registers them at start-up
(``register_analysis``), and so does the entry point of batch jobs (``facetflow launch``,
which runs FireWorks in another process); the workflow asks for them with ``analysis()``
and fails with a clear message when nothing was registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class OptimalArrangements(Protocol):
    def __call__(self, workdir: Path, /) -> dict[str, dict[str, str]]:
        """The theta* arrangement of every facet and swept ligand of the study in
        ``workdir``, from its stored energies: facet label -> ligand -> structure id."""


class WriteReport(Protocol):
    def __call__(self, workdir: Path, /) -> Path:
        """Write ``workdir``'s report from the results store; returns its main file."""


@dataclass(frozen=True)
class AnalysisHooks:
    """The analysis functions a workflow calls."""

    optimal_arrangements: OptimalArrangements
    write_report: WriteReport


class AnalysisNotWired(RuntimeError):
    """A workflow needed the analysis but no entry point registered it."""


_registered: list[AnalysisHooks] = []


def register_analysis(hooks: AnalysisHooks) -> None:
    """Make ``hooks`` the analysis of this process (replacing any registered before)."""
    _registered[:] = [hooks]


def analysis() -> AnalysisHooks:
    """The registered analysis; ``AnalysisNotWired`` when there is none."""
    if not _registered:
        raise AnalysisNotWired(
            "the workflow needs the analysis (theta* and the report), but this process did "
            "not register it: run studies through the facetflow command line, or call "
            "facetflow.workflows.hooks.register_analysis first")
    return _registered[0]
