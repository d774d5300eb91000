"""The documentation: the MkDocs site builds in strict mode (no broken links, anchors or
pages; every generated page filled), the generated references are complete, and no
user-facing text talks about the history of the project's development.

The site build is skipped only where MkDocs is not installed and ``CI`` is not set
(``pip install -e ".[docs]"``); in CI it must run.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAVE_MKDOCS = all(importlib.util.find_spec(m) is not None
                  for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers"))
needs_mkdocs = pytest.mark.skipif(
    not HAVE_MKDOCS and not os.environ.get("CI"),
    reason='MkDocs not installed (pip install -e ".[docs]"); required where CI is set')

# Words that narrate how the project was developed rather than what it does.
HISTORY = [
    (re.compile(r"\bsessions?[\s-]*\d", re.I), "numbered work session"),
    (re.compile(r"\b(this|that|earlier|previous|last|next|later)\s+sessions?\b", re.I),
     "work session"),
    (re.compile(r"\bstop\s+\d+", re.I), "numbered stop"),
    (re.compile(r"\brun diary\b", re.I), "run diary"),
    (re.compile(r"\(being built\)", re.I), "'(being built)'"),
    (re.compile(r"/tmp/"), "/tmp path"),
]


def _hooks():
    spec = importlib.util.spec_from_file_location("facetflow_docs_hooks",
                                                  ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as ``mkdocs build --strict`` writes it (run from another directory)."""
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(out)],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@needs_mkdocs
def test_site_builds_strict(site):
    for page in ("index.html", "getting-started/index.html", "concepts/index.html",
                 "study-reference/index.html", "cli/index.html", "engines/index.html",
                 "workflows/index.html", "results/index.html", "summary/index.html",
                 "validation/index.html", "benchmarks/index.html",
                 "architecture/index.html", "api/study/index.html"):
        assert (site / page).is_file(), page


@needs_mkdocs
def test_study_reference_page_lists_every_field(site):
    from facetflow.study import Study

    html = (site / "study-reference" / "index.html").read_text(encoding="utf-8")
    assert "facetflow:study-reference" not in html, "the hook left its marker in the page"
    missing = [f for f in Study.model_fields if f"<td><code>{f}</code></td>" not in html]
    assert not missing, f"top-level study fields missing from the reference page: {missing}"


@needs_mkdocs
def test_generated_pages_are_filled(site):
    from facetflow.engines.settings import SETTINGS_MODELS

    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("validate", "build", "run", "submit", "status", "report", "engines",
                    "calc"):
        assert f"facetflow {command}" in cli, command
    engines = (site / "engines" / "index.html").read_text(encoding="utf-8")
    assert "facetflow:engine-settings" not in engines
    for name, model in SETTINGS_MODELS.items():
        assert f'id="settings-{name}"' in engines, name
        for key in model.model_fields:
            assert f"<td><code>{key}</code></td>" in engines, f"{name}.{key}"
    bench = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "facetflow:include" not in bench and "<table>" in bench


def test_study_reference_covers_every_nested_field():
    """The hook itself (no MkDocs needed): every field of every model under Study."""
    from pydantic import BaseModel

    from facetflow.study import Study

    text = _hooks().study_reference()
    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            assert f"| `{name}` |" in text, f"{model.__name__}.{name}"
            for sub in _models(info.annotation):
                walk(sub)

    walk(Study)
    assert len(seen) > 10  # Study and its sub-models were walked


def _models(annotation) -> list[type]:
    import inspect
    import typing

    from pydantic import BaseModel

    found = [annotation] if inspect.isclass(annotation) and issubclass(annotation,
                                                                        BaseModel) else []
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def _texts() -> list[tuple[str, str]]:
    """(where, text) of every user-facing text: README, docs pages, the benchmarks'
    README(s) and the docstrings of the benchmark scripts and the docs hooks."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "benchmarks").rglob("*.md"))]
    out = [(str(f.relative_to(ROOT)), f.read_text(encoding="utf-8")) for f in files]
    for f in [*sorted((ROOT / "benchmarks").glob("*.py")), ROOT / "docs" / "hooks.py"]:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    out.append((f"{f.relative_to(ROOT)} (docstring)", doc))
    return out


def test_texts_do_not_narrate_development_history():
    texts = _texts()
    assert any(where == "README.md" for where, _ in texts)
    problems = []
    for where, text in texts:
        for lineno, line in enumerate(text.splitlines(), 1):
            for pattern, what in HISTORY:
                if pattern.search(line):
                    problems.append(f"{where}:{lineno}: {what}: {line.strip()}")
    assert not problems, "\n".join(problems)


def test_docs_cite_no_missing_design_file():
    """Docstrings point at the docs pages, not at a design file outside the repository."""
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "facetflow").rglob("*.py"))
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if "DESIGN.md" in line]
    assert not hits, hits
