"""A self-contained HTML report (``report.html``) from the summary dict (schema:
docs/summary.md) and the figures of ``facetflow.analysis.figures``.

The page opens with the study's conclusions on one screen (``<section id="headline">``):
theta* and gamma* per facet and ligand, the binding energies, the growth ranking and
anisotropy index of each case, and the verdicts of the paper comparison. The detailed
tables and figures follow, then how the numbers were obtained (conditions, chemical
potentials, references, starts), the missing calculations, and last the engine, its
settings and the package versions (``<section id="provenance">``). Ligands are ordered by
``tables.order_ligands`` (each ligand before its variants) everywhere.

Figures are embedded (SVG inline, PNG as base64 where no SVG of the same name is given),
styles are inline: the file can be moved or mailed alone. All text from the summary is
escaped.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from facetflow.analysis.tables import (
    ROLE_ORDER,
    _as_dict,
    _as_list,
    _facets,
    _num,
    binding_entries,
    binding_frame,
    comparison_frame,
    ligand_rank,
    order_ligands,
    ratio_text,
    split_ligand_key,
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

NA = '<span class="na">—</span>'


def write_html(summary: Mapping[str, Any], out: str | Path,
               figures: Sequence[str | Path] = ()) -> Path:
    """Write ``report.html`` into ``out``; the path written. ``figures`` are image files
    (.svg / .png) to embed: ``gamma_*`` under the facets, ``binding`` under the binding
    energies, ``shapes`` under growth, anything else at the end. Where a figure is given
    as both .svg and .png, the SVG is embedded."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(render_html(summary, figures), encoding="utf-8")
    return path


def render_html(summary: Mapping[str, Any], figures: Sequence[str | Path] = ()) -> str:
    """The report as a string (see ``write_html``)."""
    summary = _as_dict(summary)
    figs = _pick_figures(figures)
    study = str(summary.get("study") or "unnamed study")
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>facetflow report: {_e(study)}</title>", f"<style>{CSS}</style>", "</head>",
        "<body>", f"<h1>facetflow report: {_e(study)}</h1>",
    ]
    n_missing = len([m for m in _as_list(summary.get("missing")) if m is not None])
    n_store = len([p for p in _as_list(summary.get("store_problems")) if p is not None])
    meta = [f"engine {_e(_as_dict(summary.get('engine')).get('name') or 'unknown')}"]
    meta += [_e(c) for c in _conditions_line(summary)]
    meta.append(f'{n_missing} missing or failed calculation(s), {n_store} store problem(s): '
                '<a href="#missing">listed at the end</a>')
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    # 1. the conclusions, on one screen
    parts += _headline_section(summary)
    # 2. the details behind them
    parts.append('<nav class="toc">Details: <a href="#facets">facets</a>'
                 '<a href="#binding">binding energies</a>'
                 + ('<a href="#defects">point defects</a>' if summary.get("defects") else "")
                 + '<a href="#growth">growth</a>'
                 + ('<a href="#paper">paper comparison</a>'
                    if _as_list(summary.get("paper_comparison")) else "")
                 + '<a href="#conditions">conditions and references</a>'
                 '<a href="#missing">missing calculations</a>'
                 '<a href="#provenance">engine and versions</a></nav>')
    parts += _facets_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem.startswith("gamma_")])
    parts += _binding_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem == "binding"])
    parts += _defects_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem == "defects"])
    parts += _growth_section(summary)
    parts += _figure_blocks([p for p in figs if p.stem == "shapes"])
    parts += _comparison_section(summary)
    # 3. how the numbers were obtained
    parts += _conditions_section(summary)
    parts += _potentials_section(summary)
    parts += _references_section(summary)
    parts += _starts_section(summary)
    parts += _missing_section(summary)
    rest = [p for p in figs
            if not (p.stem.startswith("gamma_") or p.stem in ("binding", "shapes",
                                                              "defects"))]
    if rest:
        parts += ["<h2>Other figures</h2>"] + _figure_blocks(rest)
    # 4. provenance, last
    parts += _engine_section(summary)
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- the conclusions


def _headline_section(summary: Mapping[str, Any]) -> list[str]:
    """The study's conclusions, compact enough for one screen: theta* / gamma* per facet
    and ligand, binding energies, growth ranking and anisotropy per case, and the paper
    comparison's verdicts. Each card links to its detailed section below."""
    cards = [_headline_optimum(summary), _headline_binding(summary),
             _headline_growth(summary), _headline_paper(summary)]
    return ['<section id="headline" class="headline">', "<h2>Conclusions</h2>",
            '<div class="cards">', *[c for c in cards if c], "</div>", "</section>"]


def _card(title: str, anchor: str | None, body: list[str]) -> str:
    link = f' <a class="note" href="#{anchor}">details</a>' if anchor else ""
    return f'<div class="card"><h3>{title}{link}</h3>{"".join(body)}</div>'


def _label(key: str) -> str:
    """"acetate+F" -> "acetate + F" (as in the figure legends)."""
    lig, var = split_ligand_key(key)
    return lig if var is None else f"{lig} + {var}"


def _headline_optimum(summary: Mapping[str, Any]) -> str:
    """Rows: ligands and variants (each ligand first); two columns per facet: theta*
    (2 decimals) and gamma* (meV/Å^2, 1 decimal), the lowest gamma* of a facet in bold."""
    facets = {k: _as_dict(_as_dict(f).get("optimum")) for k, f in _facets(summary).items()}
    keys = order_ligands(k for opt in facets.values() for k in opt)
    title = "Optimal coverage θ* and interfacial energy γ*"
    if not keys:
        return _card(title, "facets", ['<p class="na">not computed</p>'])
    head1 = '<tr><th rowspan="2">ligand / variant</th>' + "".join(
        f'<th colspan="2">{{{_e(f)}}}</th>' for f in facets) + "</tr>"
    head2 = "<tr>" + "<th>θ*</th><th>γ*</th>" * len(facets) + "</tr>"
    best = {}
    for f, opt in facets.items():
        values = [v for k in keys if (v := _num(_as_dict(opt.get(k)).get("value"))) is not None]
        best[f] = min(values) if len(values) > 1 else None
    edge = False
    body = []
    for k in keys:
        cells = [f"<td>{_e(_label(k))}</td>"]
        for f, opt in facets.items():
            o = _as_dict(opt.get(k))
            theta, gamma = _num(o.get("theta")), _num(o.get("value"))
            mark = ""
            if theta is not None and "end of the range" in str(o.get("method") or ""):
                mark, edge = "†", True
            t = NA if theta is None else _e(f"{theta:.2f}") + mark
            g = NA if gamma is None else _e(f"{gamma:.1f}")
            if gamma is not None and gamma == best[f]:
                g = f"<strong>{g}</strong>"
            cells.append(f'<td class="num">{t}</td><td class="num">{g}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    note = ("θ*: ligands per surface cation; γ*: interfacial energy at θ* (meV/Å²); bold: "
            "the lowest γ* of the facet.")
    if edge:
        note += " †: at the end of the computed range (the optimum may lie beyond)."
    return _card(title, "facets", [f"<table>{head1}{head2}{''.join(body)}</table>",
                                   f'<p class="note">{note}</p>'])


def _headline_binding(summary: Mapping[str, Any]) -> str:
    """Rows: species per ligand sweep (ligand, additives, growth species); one column per
    facet: E_b (eV, 2 decimals)."""
    facets = _facets(summary)
    per_facet = {f: binding_entries(v) for f, v in facets.items()}
    seen: dict[tuple[str | None, str, str], int] = {}
    values: dict[tuple[str, tuple[str | None, str, str]], float | None] = {}
    for f, entries in per_facet.items():
        for sweep, b in entries:
            key = (sweep, str(b.get("species") or "?"), str(b.get("role") or ""))
            seen.setdefault(key, len(seen))
            values.setdefault((f, key), _num(b.get("value")))
    title = "Binding energies E_b (eV)"
    if not seen:
        return _card(title, "binding", ['<p class="na">not computed</p>'])
    rank = ligand_rank(k[0] for k in seen if k[0] is not None)
    rows = sorted(seen, key=lambda k: (rank.get(k[0], -1) if k[0] is not None else -1,
                                       ROLE_ORDER.get(k[2], 9), seen[k]))
    sweeps = list(dict.fromkeys(k[0] for k in rows))
    head = "<tr><th>species</th>" + "".join(f"<th>{{{_e(f)}}}</th>" for f in facets) + "</tr>"
    body = []
    for key in rows:
        if len(sweeps) > 1 and key[0] is not None and key == next(
                k for k in rows if k[0] == key[0]):
            body.append(f'<tr><td class="group" colspan="{len(facets) + 1}">at θ* of '
                        f"{_e(key[0])}</td></tr>")
        role = f' <span class="note">{_e(key[2])}</span>' if key[2] else ""
        cells = "".join(f'<td class="num">{_n(values.get((f, key)), 2)}</td>'
                        if (f, key) in values else f'<td class="num">{NA}</td>'
                        for f in facets)
        body.append(f"<tr><td>{_e(key[1])}{role}</td>{cells}</tr>")
    return _card(title, "binding", [
        f"<table>{head}{''.join(body)}</table>",
        '<p class="note">At the optimal coverage θ*; negative = bound.</p>'])


def _headline_growth(summary: Mapping[str, Any]) -> str:
    """One row per growth case: ranking (fastest first), anisotropy index, aspect ratio."""
    cases = _as_dict(_as_dict(summary.get("growth")).get("cases"))
    title = "Growth"
    if not cases:
        return _card(title, "growth", ['<p class="na">not computed</p>'])
    rows = []
    for name, c in cases.items():
        c = _as_dict(c)
        ranking = " > ".join(f"{{{k}}}" for k in _as_list(c.get("ranking")))
        rows.append((_e(name), f'<span class="ranking">{_e(ranking)}</span>' if ranking
                     else _e(c.get("note") or "not computed"),
                     _ratio(c.get("anisotropy_index")),
                     _n(_as_dict(c.get("shape")).get("aspect_ratio"), 2)))
    return _card(title, "growth", [
        _table(["case", "ranking (fastest first)", "anisotropy index", "aspect ratio"], rows,
               numeric={2, 3}, markup={0, 1}),
        '<p class="note">Anisotropy index: fastest / slowest relative growth rate (1 = '
        "isotropic); aspect ratio of the kinetic Wulff shape.</p>"])


def _headline_paper(summary: Mapping[str, Any]) -> str:
    """How many findings agree, and each finding's verdict."""
    df = comparison_frame(summary)
    title = "Paper findings"
    if df.empty:
        return _card(title, None, [
            '<p class="na">no paper to compare with (analysis.compare_with not set)</p>'])
    runs = [r for r in dict.fromkeys(df.run) if isinstance(r, str) and r]
    several = len(runs) > 1
    counts = []
    for run in (runs if several else [None]):
        rows = df if run is None else df[df.run == run]
        verdicts = [str(v) if isinstance(v, str) else "no verdict" for v in rows.verdict]
        others = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts)
                           if v != "agrees")
        counts.append((f"{_e(run)}: " if run else "")
                      + f"{verdicts.count('agrees')} of {len(rows)} agree"
                      + (f" ({_e(others)})" if others else ""))
    items = []
    for r in df.itertuples(index=False):
        verdict = str(r.verdict) if isinstance(r.verdict, str) else ""
        cls = "verdict-" + re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")
        text = r.finding if isinstance(r.finding, str) and r.finding else r.this_run
        run = f' <span class="note">({_e(r.run)})</span>' if several and r.run else ""
        items.append(f'<li><span class="{cls}">{_e(verdict) if verdict else NA}</span> '
                     f"{_e(text) if isinstance(text, str) else NA}{run}</li>")
    return _card(title, "paper", [f"<p>{'; '.join(counts)}.</p>",
                                  f"<ul>{''.join(items)}</ul>"])


def _conditions_line(summary: Mapping[str, Any]) -> list[str]:
    """The conditions the conclusions hold for, as short phrases: "340 °C",
    "cation-rich limit"."""
    cond = _as_dict(summary.get("conditions"))
    out = []
    t = _num(cond.get("temperature_C"))
    if t is not None:
        out.append(f"{t:g} °C")
    if cond.get("limit"):
        out.append(f"{cond.get('limit')} limit")
    return out


# ---------------------------------------------------------------- sections


def _engine_section(summary: Mapping[str, Any]) -> list[str]:
    """Provenance, at the end of the page: the engine, its identity and settings, the
    package versions and the summary's schema."""
    eng = _as_dict(summary.get("engine"))
    rows = [("name", eng.get("name")), ("identity", eng.get("identity"))]
    for key, value in eng.items():
        if key in ("name", "identity"):
            continue
        if isinstance(value, Mapping):
            rows += [(f"{key}: {k}", _jsonish(v)) for k, v in value.items()]
        else:
            rows.append((key, _jsonish(value)))
    out = ['<section id="provenance">', "<h2>Engine, versions and provenance</h2>",
           _table(["", "value"], rows)]
    versions = _as_dict(summary.get("versions"))
    if versions:
        out.append(_table(["package", "version"], list(versions.items())))
    else:
        out.append("<p>Versions: none recorded.</p>")
    out.append(f'<p class="meta">summary schema '
               f"<code>{_e(summary.get('schema') or 'unknown')}</code></p>")
    return out + ["</section>"]


def _starts_section(summary: Mapping[str, Any]) -> list[str]:
    """Several starts per structure: how often another start than the usual one was
    lowest, and the structures where the start mattered most."""
    starts = _as_dict(summary.get("starts"))
    if not starts:
        return []
    rows = sorted(_as_dict(starts.get("by_structure")).items(),
                  key=lambda kv: -float(_as_dict(kv[1]).get("spread_eV") or 0.0))
    spread = _as_dict(starts.get("spread_eV"))
    kept = ("pre-relaxed with the ML potential from {} starts each; the final calculation "
            "began from the lowest" if starts.get("stage") == "prerelax"
            else "relaxed from {} starts each; each energy is the lowest")
    return [
        "<h2>Several starts per structure</h2>",
        f"<p>{_e(starts.get('structures'))} structures "
        f"{kept.format(_e(starts.get('per_structure')))}. Another "
        f"start than the usual one was lowest for {_e(starts.get('lowest_not_start_0'))}. "
        f"Spread (highest minus lowest start): median {_n(spread.get('median'), 3)} eV, "
        f"largest {_n(spread.get('max'), 3)} eV.</p>",
        _table(["structure", "starts done", "lowest start", "spread (eV)"],
               [(sid, _as_dict(r).get("done"), _as_dict(r).get("lowest_start"),
                 _n(_as_dict(r).get("spread_eV"), 3)) for sid, r in rows[:12]]),
    ]


def _conditions_section(summary: Mapping[str, Any]) -> list[str]:
    cond = _as_dict(summary.get("conditions"))
    rows = [(k, _jsonish(v)) for k, v in cond.items()]
    return ['<h2 id="conditions">Conditions</h2>',
            _table(["condition", "value"], rows) if rows else "<p>none recorded</p>"]


def _potentials_section(summary: Mapping[str, Any]) -> list[str]:
    mus = _as_dict(summary.get("chemical_potentials"))
    rows = []
    for k, v in mus.items():
        v = v if isinstance(v, Mapping) else {"value": v}
        rows.append((k, _n(v.get("value"), 4), v.get("how")))
    return ["<h2>Chemical potentials</h2>",
            _table(["species", "μ (eV per atom or ligand unit)", "how it was chosen"], rows,
                   numeric={1}) if rows else "<p>not computed</p>"]


def _references_section(summary: Mapping[str, Any]) -> list[str]:
    refs = _as_dict(summary.get("references"))
    if not refs:
        return []
    rows = [(k, _n(_as_dict(v).get("energy"), 4), _as_dict(v).get("per"),
             _as_dict(v).get("structure")) for k, v in refs.items()]
    out = ["<h2>Reference calculations</h2>",
           _table(["reference", "energy (eV)", "per", "structure"], rows, numeric={1})]
    passivation = _as_dict(summary.get("passivation"))
    if passivation:
        prow = [(k, _n(_as_dict(v).get("value"), 4), _as_dict(v).get("unit"))
                for k, v in passivation.items()]
        out += ["<h3>Pseudo-H passivation energies</h3>",
                _table(["host", "ε (eV)", "unit"], prow, numeric={1})]
    return out


def _facets_section(summary: Mapping[str, Any]) -> list[str]:
    facets = _facets(summary)
    out = ['<h2 id="facets">Facets: surface and interfacial energies</h2>']
    if not facets:
        return out + ["<p>not computed</p>"]
    out.append("<p>γ in meV/Å² (J/m² in brackets). γ_bare: the bare core slab; "
               "γ_shell: the slab with its shell and no ligands (θ = 0); θ*: the optimal "
               "coverage (ligands per surface cation) and γ* the interfacial energy there, "
               "per ligand and ligand + variant.</p>")
    head = ("<tr><th>facet</th><th>slab</th><th>area (Å²)</th><th>γ_bare</th>"
            "<th>γ_shell</th><th>ligand / variant</th><th>θ*</th><th>γ*</th>"
            "<th>how θ* was chosen</th></tr>")
    body = []
    for facet, f in facets.items():
        f = _as_dict(f)
        optimum = _as_dict(f.get("optimum"))
        opts = [(k, _as_dict(optimum.get(k))) for k in order_ligands(optimum)] or [(None, {})]
        span = f' rowspan="{len(opts)}"' if len(opts) > 1 else ""
        sym = f.get("symmetric")
        slab = ("symmetric" if sym is True else "asymmetric" if sym is False else "?")
        if f.get("n_faces") is not None:
            slab += f", {f.get('n_faces')} face(s)"
        first = (f"<td{span}>{{{_e(facet)}}}</td><td{span}>{_e(slab)}</td>"
                 f'<td class="num"{span}>{_n(f.get("area"), 2)}</td>'
                 f'<td class="num"{span}>{_gamma(f.get("gamma_bare"))}</td>'
                 f'<td class="num"{span}>{_gamma(f.get("gamma_shell"))}</td>')
        for i, (key, o) in enumerate(opts):
            cells = (f"<td>{_e(key) if key else NA}</td>"
                     f'<td class="num">{_n(o.get("theta"), 3)}</td>'
                     f'<td class="num">{_n(o.get("value"), 2)}</td>'
                     f"<td>{_e(o.get('method')) if o.get('method') else NA}</td>")
            if key is None:
                cells = '<td colspan="4" class="na">θ* not computed</td>'
            body.append(f"<tr>{first if i == 0 else ''}{cells}</tr>")
    out.append(f"<table>{head}{''.join(body)}</table>")
    return out


def _binding_section(summary: Mapping[str, Any]) -> list[str]:
    df = binding_frame(summary)
    out = ['<h2 id="binding">Binding energies</h2>',
           "<p>E_b(A) = E(slab + A) − E(slab) − μ_A in eV; negative = bound. Computed at "
           "the optimal coverage θ*.</p>"]
    if df.empty:
        return out + ["<p>not computed</p>"]
    rows = [(f"{{{r.facet}}}", r.species, r.role, _n(r.theta, 3), _n(r.Eb_eV, 3), r.structure,
             r.reference) for r in df.itertuples(index=False)]
    out.append(_table(["facet", "species", "role", "θ", "E_b (eV)", "structure",
                       "reference"], rows, numeric={3, 4}))
    return out


def _defects_section(summary: Mapping[str, Any]) -> list[str]:
    """Chemical-potential limits, and per limit a table of E_f of every defect position
    without and with each ligand (dE_f in brackets). Nothing when there are no defects."""
    d = _as_dict(summary.get("defects"))
    if not d:
        return []
    out = ['<h2 id="defects">Point defects</h2>',
           f"<p>{_e(d.get('convention') or '')}. Material: {_e(d.get('material'))}.</p>"]
    limits = _as_dict(d.get("limits"))
    rows = []
    for lim, info in limits.items():
        info = _as_dict(info)
        mu = _as_dict(info.get("mu"))
        rows.append((lim, info.get("name"),
                     ", ".join(f"μ_{k} = {_plain(v, 4)}" for k, v in mu.items()) or None,
                     info.get("how")))
    dh = _as_dict(d.get("formation_enthalpy"))
    out.append(_table(["limit", "name", "μ (eV per atom)", "how"], rows))
    out.append(f"<p>Formation enthalpy ΔH_f = {_n(dh.get('value'), 3)} eV per "
               f"{_e(dh.get('per') or 'formula unit')}.</p>")
    entries = [e for e in _as_list(d.get("entries")) if isinstance(e, Mapping)]
    ligands = order_ligands(e.get("ligand") for e in entries if e.get("ligand") is not None)
    positions = list(dict.fromkeys((e.get("facet"), e.get("defect"), e.get("site"))
                                   for e in entries))
    by = {(e.get("facet"), e.get("defect"), e.get("site"), e.get("ligand")): e
          for e in entries}
    for lim, info in limits.items():
        name = _as_dict(info).get("name") or lim
        head = ["facet", "defect", "position", "layer", "no ligand"] + [
            f"with {lig} (ΔE_f)" for lig in ligands]
        body = []
        for facet, defect, site in positions:
            plain = _as_dict(by.get((facet, defect, site, None)))
            cells = [f"{{{facet}}}", defect, site, plain.get("layer"),
                     _n(_as_dict(plain.get("E_f")).get(lim), 3) +
                     (" ★" if plain.get("lowest") else "")]
            for lig in ligands:
                e = _as_dict(by.get((facet, defect, site, lig)))
                v = _n(_as_dict(e.get("E_f")).get(lim), 3)
                dv = _num(e.get("dE_f"))
                cells.append(v + (f" ({dv:+.3f})" if dv is not None else ""))
            body.append(cells)
        out.append(f"<h3>E_f (eV per defect), {_e(name)} limit</h3>")
        out.append(_table(head, body, numeric=set(range(4, 5 + len(ligands)))))
    out.append("<p>★ the most stable position of the defect without ligand. ΔE_f = E_f "
               "(with ligand) − E_f (without) does not depend on the limit; ΔE_f &gt; 0: "
               "the ligand makes the defect costlier to form (passivation).</p>")
    return out


def _growth_section(summary: Mapping[str, Any]) -> list[str]:
    g = _as_dict(summary.get("growth"))
    out = ['<h2 id="growth">Growth</h2>']
    meta = []
    if g.get("model"):
        meta.append(f"model: <code>{_e(g.get('model'))}</code>")
    if _num(g.get("temperature_C")) is not None:
        meta.append(f"temperature {_n(g.get('temperature_C'), 1)} °C")
    if meta:
        out.append(f"<p>{'; '.join(meta)}. Rates relative to the fastest facet; anisotropy "
                   "index = max/min rate; aspect ratio = largest / smallest caliper width "
                   "of the kinetic Wulff shape.</p>")
    cases = _as_dict(g.get("cases"))
    if cases:
        rows = []
        for name, c in cases.items():
            c = _as_dict(c)
            rates = _as_dict(c.get("rates"))
            fr = _as_dict(_as_dict(c.get("shape")).get("facet_area_fractions"))
            notes = [str(x) for x in (c.get("note"), _as_dict(c.get("shape")).get("error"))
                     if x]
            rows.append((
                name, _ratio(c.get("anisotropy_index")),
                _n(_as_dict(c.get("shape")).get("aspect_ratio"), 2),
                " > ".join(f"{{{k}}}" for k in _as_list(c.get("ranking"))) or None,
                ", ".join(f"{{{k}}} {_plain(v, 3)}" for k, v in rates.items()) or None,
                ", ".join(f"{{{k}}} {_plain(v, 2)}" for k, v in fr.items()) or None,
                "; ".join(notes) or None))
        out.append(_table(["case", "anisotropy index", "aspect ratio",
                           "ranking (fastest first)", "relative rates",
                           "facet area fractions", "note"], rows, numeric={1, 2}))
    else:
        out.append("<p>Growth cases: not computed.</p>")
    assumptions = [a for a in _as_list(g.get("assumptions")) if a is not None]
    out.append("<h3>Assumptions of the growth model</h3>")
    if assumptions:
        out.append("<ul>" + "".join(f"<li>{_e(a)}</li>" for a in assumptions) + "</ul>")
    else:
        out.append("<p>none stated</p>")
    return out


def _comparison_section(summary: Mapping[str, Any]) -> list[str]:
    df = comparison_frame(summary)
    if df.empty:
        return []
    head = "".join(f"<th>{h}</th>" for h in ("finding", "paper", "this run", "verdict",
                                               "engine", "run"))
    body = []
    for r in df.itertuples(index=False):
        verdict = str(r.verdict) if r.verdict is not None else ""
        cls = "verdict-" + re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")
        body.append(f"<tr>{_td(r.finding)}{_td(r.paper)}{_td(r.this_run)}"
                    f'<td class="{cls}">{_e(verdict) if verdict else NA}</td>'
                    f"{_td(r.engine)}{_td(r.run)}</tr>")
    return ['<h2 id="paper">Comparison with the paper</h2>',
            f"<table><tr>{head}</tr>{''.join(body)}</table>"]


def _missing_section(summary: Mapping[str, Any]) -> list[str]:
    out = ['<h2 id="missing">Missing or failed calculations</h2>']
    missing = [m for m in _as_list(summary.get("missing")) if m is not None]
    out.append("<h3>Missing structures</h3>")
    if missing:
        rows = [(_as_dict(m).get("structure", m if not isinstance(m, Mapping) else None),
                 _as_dict(m).get("reason")) for m in missing]
        out.append(_table(["structure", "reason"], rows))
    else:
        out.append("<p>none</p>")
    problems = [p for p in _as_list(summary.get("store_problems")) if p is not None]
    out.append("<h3>Store problems</h3>")
    if problems:
        rows = [(_as_dict(p).get("calc_hash", p if not isinstance(p, Mapping) else None),
                 _as_dict(p).get("reason")) for p in problems]
        out.append(_table(["calculation", "reason"], rows))
    else:
        out.append("<p>none</p>")
    return out


# ---------------------------------------------------------------- figures


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
    caption = f"<figcaption>{_e(path.name)}</figcaption>"
    try:
        if path.suffix.lower() == ".svg":
            text = path.read_text(encoding="utf-8")
            start = text.find("<svg")
            if start < 0:
                raise ValueError("no <svg> element")
            body = text[start:]
        else:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            body = f'<img alt="{_e(path.stem)}" src="data:image/png;base64,{data}">'
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        body = f'<p class="na">figure {_e(path.name)} not available ({_e(exc)})</p>'
    return f"<figure>{body}{caption}</figure>"


# ---------------------------------------------------------------- formatting


def _e(x: Any) -> str:
    return html.escape(str(x))


def _jsonish(v: Any) -> str:
    if isinstance(v, (Mapping, list, tuple)):
        return json.dumps(v, default=str, ensure_ascii=False)
    return "" if v is None else str(v)


def _plain(v: Any, digits: int) -> str:
    x = _num(v)
    return "—" if x is None else f"{x:.{digits}f}"


def _n(v: Any, digits: int) -> str:
    """A number as escaped HTML, or the n/a mark."""
    x = _num(v)
    return NA if x is None else _e(f"{x:.{digits}f}")


def _ratio(v: Any) -> str:
    """A ratio such as the anisotropy index (``tables.ratio_text``) as escaped HTML."""
    x = _num(v)
    return NA if x is None else _e(ratio_text(x))


def _gamma(g: Any) -> str:
    g = _as_dict(g)
    v, j = _num(g.get("value")), _num(g.get("j_m2"))
    if v is None:
        return NA
    return _e(f"{v:.2f}" + (f" ({j:.3f})" if j is not None else ""))


def _td(v: Any) -> str:
    blank = v is None or v == "" or (isinstance(v, float) and math.isnan(v))
    return f"<td>{NA if blank else _e(v)}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]],
           numeric: Collection[int] = (), markup: Collection[int] = ()) -> str:
    """Rows of plain values (escaped here), except the columns in ``numeric``, which hold
    HTML already made by ``_n``, and in ``markup``, HTML already made (not numbers)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i in numeric:
                cells.append(f'<td class="num">{v}</td>')
            elif i in markup:
                cells.append(f"<td>{v}</td>")
            else:
                cells.append(_td(v))
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"
