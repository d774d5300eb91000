"""A self-contained HTML report (``report.html``) from the summary dict (schema:
docs/summary.md) and the figures of ``facetflow.analysis.figures``.

The page opens with the study's conclusions on one screen (``<section id="headline">``):
theta* and gamma* per facet and ligand, the binding energies, the growth ranking and
anisotropy index of each case, and the verdicts of the paper comparison. The detailed
tables and figures follow, then how the numbers were obtained (conditions, chemical
potentials, references, starts), the missing calculations, and last the engine, its
settings and the package versions (``<section id="provenance">``). Ligands are ordered by
``summary_view.order_ligands`` (each ligand before its variants) everywhere.

Figures are embedded (SVG inline, PNG as base64 where no SVG of the same name is given),
styles are inline: the file can be moved or mailed alone. All text from the summary is
escaped.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from facetflow.analysis.html_electronic import ELECTRONIC_STEMS, electronic_html
from facetflow.analysis.html_format import (
    esc,
)
from facetflow.analysis.html_headline import headline_section
from facetflow.analysis.html_sections import (
    binding_section,
    comparison_section,
    conditions_line,
    conditions_section,
    defects_section,
    delta_mu_section,
    engine_section,
    facets_section,
    growth_section,
    missing_section,
    potentials_section,
    references_section,
    starts_section,
)
from facetflow.analysis.summary_view import (
    as_dict,
    as_list,
)

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 2em auto; max-width: 1150px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.meta { color: #555; }
.na { color: #999; }
.verdict-agrees { color: #1a7f37; font-weight: 600; }
.verdict-disagrees { color: #c00000; font-weight: 600; }
.verdict-not-computed { color: #8a6d00; }
figure { margin: 1em 0; }
figure svg, figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
code { font-size: 0.9em; }
section.headline { background: #f7f9fc; border: 1px solid #d5dde8; border-radius: 6px;
                   padding: 0.4em 1em 0.6em; margin: 0.8em 0 1em; }
section.headline h2 { margin: 0.3em 0 0.2em; border: none; font-size: 1.3em; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(430px, 1fr));
         gap: 0.3em 1.4em; }
.card h3 { font-size: 1em; margin: 0.5em 0 0.2em; }
.card table { margin: 0.2em 0 0.3em; font-size: 0.86em; background: #fff; }
.card th, .card td { padding: 0.12em 0.45em; }
.card ul { margin: 0.2em 0; padding-left: 1.2em; font-size: 0.9em; }
.card li { margin: 0.1em 0; }
.card p { margin: 0.2em 0; }
.note { color: #555; font-size: 0.82em; }
td.group { background: #fafafa; color: #555; font-style: italic; }
.ranking { white-space: nowrap; font-weight: 600; }
nav.toc { font-size: 0.9em; color: #555; }
nav.toc a { margin-right: 0.7em; }
"""


def write_html(summary: Mapping[str, Any], out: str | Path,
               figures: Sequence[str | Path] = ()) -> Path:
    """Write ``report.html`` into ``out``; the path written. ``figures`` are image files
    (.svg / .png) to embed: ``gamma_*`` under the facets, ``binding`` under the binding
    energies, ``shapes`` under growth, ``growth_vs_delta_mu_*`` under the Delta mu table,
    anything else at the end. Where a figure is given
    as both .svg and .png, the SVG is embedded."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render_html(summary, figures), encoding="utf-8")
    return path


def render_html(summary: Mapping[str, Any], figures: Sequence[str | Path] = ()) -> str:
    """The report as a string (see ``write_html``)."""
    summary = as_dict(summary)
    figs = _pick_figures(figures)
    study = str(summary.get("study") or "unnamed study")
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>facetflow report: {esc(study)}</title>", f"<style>{CSS}</style>", "</head>",
        "<body>", f"<h1>facetflow report: {esc(study)}</h1>",
    ]
    n_missing = len([m for m in as_list(summary.get("missing")) if m is not None])
    n_store = len([p for p in as_list(summary.get("store_problems")) if p is not None])
    meta = [f"engine {esc(as_dict(summary.get('engine')).get('name') or 'unknown')}"]
    meta += [esc(c) for c in conditions_line(summary)]
    meta.append(f'{n_missing} missing or failed calculation(s), {n_store} store problem(s): '
                '<a href="#missing">listed at the end</a>')
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    # 1. the conclusions, on one screen
    parts += headline_section(summary)
    # 2. the details behind them
    parts.append('<nav class="toc">Details: <a href="#facets">facets</a>'
                 '<a href="#binding">binding energies</a>'
                 + ('<a href="#defects">point defects</a>' if summary.get("defects") else "")
                 + '<a href="#growth">growth</a>'
                 + ('<a href="#delta-mu">growth vs Δμ</a>'
                    if summary.get("growth_vs_delta_mu") else "")
                 + ('<a href="#electronic">electronic structure</a>'
                    if summary.get("electronic") else "")
                 + ('<a href="#paper">paper comparison</a>'
                    if as_list(summary.get("paper_comparison")) else "")
                 + '<a href="#conditions">conditions and references</a>'
                 '<a href="#missing">missing calculations</a>'
                 '<a href="#provenance">engine and versions</a></nav>')
    parts += facets_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem.startswith("gamma_")])
    parts += binding_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem == "binding"])
    parts += defects_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem == "defects"])
    parts += growth_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem == "shapes"])
    parts += delta_mu_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem.startswith("growth_vs_delta_mu")])
    parts += electronic_html(summary)
    parts += _figure_blocks([p for p in figs if p.stem.startswith(ELECTRONIC_STEMS)])
    parts += comparison_section(summary)
    # 3. how the numbers were obtained
    parts += conditions_section(summary)
    parts += potentials_section(summary)
    parts += references_section(summary)
    parts += starts_section(summary)
    parts += missing_section(summary)
    rest = [p for p in figs
            if not (p.stem.startswith(("gamma_", "growth_vs_delta_mu", *ELECTRONIC_STEMS))
                    or p.stem in ("binding", "shapes", "defects"))]
    if rest:
        parts += ["<h2>Other figures</h2>"] + _figure_blocks(rest)
    # 4. provenance, last
    parts += engine_section(summary)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _pick_figures(figures: Iterable[str | Path]) -> list[Path]:
    """One file per figure name, SVG preferred, in the order first given."""
    chosen: dict[str, Path] = {}
    for f in figures:
        p = Path(f)
        if p.suffix.lower() not in (".svg", ".png"):
            continue
        key = str(p.with_suffix(""))
        if key not in chosen or (p.suffix.lower() == ".svg" and p.exists()):
            chosen[key] = p
    return list(chosen.values())


def _figure_blocks(paths: Sequence[Path]) -> list[str]:
    return [_figure(p) for p in paths]


def _figure(path: Path) -> str:
    caption = f"<figcaption>{esc(path.name)}</figcaption>"
    try:
        if path.suffix.lower() == ".svg":
            text = path.read_text(encoding="utf-8")
            start = text.find("<svg")
            if start < 0:
                raise ValueError("no <svg> element")
            body = text[start:]
        else:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            body = f'<img alt="{esc(path.stem)}" src="data:image/png;base64,{data}">'
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        body = f'<p class="na">figure {esc(path.name)} not available ({esc(exc)})</p>'
    return f"<figure>{body}{caption}</figure>"
