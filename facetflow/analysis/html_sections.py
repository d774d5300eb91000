"""The detailed sections of report.html below the conclusions: facets, binding energies,
defects, growth (and its Delta mu sweeps), paper comparison, then how the numbers were
obtained (conditions, chemical potentials, references, starts), the missing
calculations, and the engine and versions (provenance, last). Energies in eV, gamma in
meV/Å² (J/m² in brackets); [low, high] the 90 % interval of a number with error bars."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from facetflow.analysis.html_format import (
    NA,
    esc,
    gamma_html,
    jsonish,
    num_html,
    number_text,
    ratio_html,
    table,
    td,
)
from facetflow.analysis.summary_view import (
    as_dict,
    as_list,
    facets_of,
    interval_text,
    num,
    order_ligands,
)
from facetflow.analysis.tables import binding_frame, comparison_frame


def conditions_line(summary: Mapping[str, Any]) -> list[str]:
    """The conditions the conclusions hold for, as short phrases: "340 °C",
    "cation-rich limit"."""
    cond = as_dict(summary.get("conditions"))
    out = []
    t = num(cond.get("temperature_C"))
    if t is not None:
        out.append(f"{t:g} °C")
    if cond.get("limit"):
        out.append(f"{cond.get('limit')} limit")
    return out


def engine_section(summary: Mapping[str, Any]) -> list[str]:
    """Provenance, at the end of the page: the engine, its identity and settings, the
    package versions and the summary's schema."""
    eng = as_dict(summary.get("engine"))
    rows = [("name", eng.get("name")), ("identity", eng.get("identity"))]
    for key, value in eng.items():
        if key in ("name", "identity"):
            continue
        if isinstance(value, Mapping):
            rows += [(f"{key}: {k}", jsonish(v)) for k, v in value.items()]
        else:
            rows.append((key, jsonish(value)))
    out = ['<section id="provenance">', "<h2>Engine, versions and provenance</h2>",
           table(["", "value"], rows)]
    versions = as_dict(summary.get("versions"))
    if versions:
        out.append(table(["package", "version"], list(versions.items())))
    else:
        out.append("<p>Versions: none recorded.</p>")
    out.append(f'<p class="meta">summary schema '
               f"<code>{esc(summary.get('schema') or 'unknown')}</code></p>")
    return out + ["</section>"]


def starts_section(summary: Mapping[str, Any]) -> list[str]:
    """Several starts per structure: how often another start than the usual one was
    lowest, and the structures where the start mattered most."""
    starts = as_dict(summary.get("starts"))
    if not starts:
        return []
    rows = sorted(as_dict(starts.get("by_structure")).items(),
                  key=lambda kv: -float(as_dict(kv[1]).get("spread_eV") or 0.0))
    spread = as_dict(starts.get("spread_eV"))
    kept = ("pre-relaxed with the ML potential from {} starts each; the final calculation "
            "began from the lowest" if starts.get("stage") == "prerelax"
            else "relaxed from {} starts each; each energy is the lowest")
    return [
        "<h2>Several starts per structure</h2>",
        f"<p>{esc(starts.get('structures'))} structures "
        f"{kept.format(esc(starts.get('per_structure')))}. Another "
        f"start than the usual one was lowest for {esc(starts.get('lowest_not_start_0'))}. "
        f"Spread (highest minus lowest start): median {num_html(spread.get('median'), 3)} eV, "
        f"largest {num_html(spread.get('max'), 3)} eV (starts relaxed to the end)."
        + (f" {esc(starts.get('pruned'))} starts were stopped early, far above start 0 "
           "(workflow.prune_starts): their energies are upper bounds." if starts.get("pruned")
           else "") + "</p>",
        table(["structure", "starts done", "lowest start", "spread (eV)"],
               [(sid, as_dict(r).get("done"), as_dict(r).get("lowest_start"),
                 num_html(as_dict(r).get("spread_eV"), 3)) for sid, r in rows[:12]]),
    ]


def conditions_section(summary: Mapping[str, Any]) -> list[str]:
    cond = as_dict(summary.get("conditions"))
    rows = [(k, jsonish(v)) for k, v in cond.items()]
    return ['<h2 id="conditions">Conditions</h2>',
            table(["condition", "value"], rows) if rows else "<p>none recorded</p>"]


def potentials_section(summary: Mapping[str, Any]) -> list[str]:
    mus = as_dict(summary.get("chemical_potentials"))
    rows = []
    for k, v in mus.items():
        v = v if isinstance(v, Mapping) else {"value": v}
        rows.append((k, num_html(v.get("value"), 4), v.get("how")))
    return ["<h2>Chemical potentials</h2>",
            table(["species", "μ (eV per atom or ligand unit)", "how it was chosen"], rows,
                   numeric={1}) if rows else "<p>not computed</p>"]


def references_section(summary: Mapping[str, Any]) -> list[str]:
    refs = as_dict(summary.get("references"))
    if not refs:
        return []
    rows = [(k, num_html(as_dict(v).get("energy"), 4), as_dict(v).get("per"),
             as_dict(v).get("structure")) for k, v in refs.items()]
    out = ["<h2>Reference calculations</h2>",
           table(["reference", "energy (eV)", "per", "structure"], rows, numeric={1})]
    passivation = as_dict(summary.get("passivation"))
    if passivation:
        prow = [(k, num_html(as_dict(v).get("value"), 4), as_dict(v).get("unit"))
                for k, v in passivation.items()]
        out += ["<h3>Pseudo-H passivation energies</h3>",
                table(["host", "ε (eV)", "unit"], prow, numeric={1})]
    return out


def facets_section(summary: Mapping[str, Any]) -> list[str]:
    facets = facets_of(summary)
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
        f = as_dict(f)
        optimum = as_dict(f.get("optimum"))
        opts = [(k, as_dict(optimum.get(k))) for k in order_ligands(optimum)] or [(None, {})]
        span = f' rowspan="{len(opts)}"' if len(opts) > 1 else ""
        sym = f.get("symmetric")
        slab = ("symmetric" if sym is True else "asymmetric" if sym is False else "?")
        if f.get("n_faces") is not None:
            slab += f", {f.get('n_faces')} face(s)"
        first = (f"<td{span}>{{{esc(facet)}}}</td><td{span}>{esc(slab)}</td>"
                 f'<td class="num"{span}>{num_html(f.get("area"), 2)}</td>'
                 f'<td class="num"{span}>{gamma_html(f.get("gamma_bare"))}</td>'
                 f'<td class="num"{span}>{gamma_html(f.get("gamma_shell"))}</td>')
        for i, (key, o) in enumerate(opts):
            cells = (f"<td>{esc(key) if key else NA}</td>"
                     f'<td class="num">{num_html(o.get("theta"), 3)}</td>'
                     f'<td class="num">{num_html(o.get("value"), 2)}</td>'
                     f"<td>{esc(o.get('method')) if o.get('method') else NA}</td>")
            if key is None:
                cells = '<td colspan="4" class="na">θ* not computed</td>'
            body.append(f"<tr>{first if i == 0 else ''}{cells}</tr>")
    out.append(f"<table>{head}{''.join(body)}</table>")
    return out


def binding_section(summary: Mapping[str, Any]) -> list[str]:
    df = binding_frame(summary)
    out = ['<h2 id="binding">Binding energies</h2>',
           "<p>E_b(A) = E(slab + A) − E(slab) − μ_A in eV; negative = bound. Computed at "
           "the optimal coverage θ*.</p>"]
    if df.empty:
        return out + ["<p>not computed</p>"]
    rows = [(f"{{{r.facet}}}", r.species, r.role, num_html(r.theta, 3), num_html(r.Eb_eV, 3),
             r.structure, r.reference) for r in df.itertuples(index=False)]
    out.append(table(["facet", "species", "role", "θ", "E_b (eV)", "structure",
                       "reference"], rows, numeric={3, 4}))
    return out


def defects_section(summary: Mapping[str, Any]) -> list[str]:
    """Chemical-potential limits, and per limit a table of E_f of every defect position
    without and with each ligand (dE_f in brackets). Nothing when there are no defects."""
    d = as_dict(summary.get("defects"))
    if not d:
        return []
    out = ['<h2 id="defects">Point defects</h2>',
           f"<p>{esc(d.get('convention') or '')}. Material: {esc(d.get('material'))}.</p>"]
    limits = as_dict(d.get("limits"))
    rows = []
    for lim, info in limits.items():
        info = as_dict(info)
        mu = as_dict(info.get("mu"))
        rows.append((lim, info.get("name"),
                     ", ".join(f"μ_{k} = {number_text(v, 4)}" for k, v in mu.items()) or None,
                     info.get("how")))
    dh = as_dict(d.get("formation_enthalpy"))
    out.append(table(["limit", "name", "μ (eV per atom)", "how"], rows))
    out.append(f"<p>Formation enthalpy ΔH_f = {num_html(dh.get('value'), 3)} eV per "
               f"{esc(dh.get('per') or 'formula unit')}.</p>")
    entries = [e for e in as_list(d.get("entries")) if isinstance(e, Mapping)]
    ligands = order_ligands(e.get("ligand") for e in entries if e.get("ligand") is not None)
    positions = list(dict.fromkeys((e.get("facet"), e.get("defect"), e.get("site"))
                                   for e in entries))
    by = {(e.get("facet"), e.get("defect"), e.get("site"), e.get("ligand")): e
          for e in entries}
    for lim, info in limits.items():
        name = as_dict(info).get("name") or lim
        head = ["facet", "defect", "position", "layer", "no ligand"] + [
            f"with {lig} (ΔE_f)" for lig in ligands]
        body = []
        for facet, defect, site in positions:
            plain = as_dict(by.get((facet, defect, site, None)))
            cells = [f"{{{facet}}}", defect, site, plain.get("layer"),
                     _ef_html(summary, plain, lim) + (" ★" if plain.get("lowest") else "")]
            for lig in ligands:
                e = as_dict(by.get((facet, defect, site, lig)))
                v = _ef_html(summary, e, lim)
                dv = num(e.get("dE_f"))
                cells.append(v + (f" ({dv:+.3f})" if dv is not None else ""))
            body.append(cells)
        out.append(f"<h3>E_f (eV per defect), {esc(name)} limit</h3>")
        out.append(table(head, body, numeric=set(range(4, 5 + len(ligands)))))
    out.append("<p>★ the most stable position of the defect without ligand. ΔE_f = E_f "
               "(with ligand) − E_f (without) does not depend on the limit; ΔE_f &gt; 0: "
               "the ligand makes the defect costlier to form (passivation). [low, high]: "
               "90 % interval (summary.json: uncertainty).</p>")
    return out


def _ef_html(summary: Mapping[str, Any], entry: Mapping[str, Any], lim: str) -> str:
    """E_f (eV) of a defect entry in one limit, with its interval where there is one."""
    path = f"defects.entries.{entry.get('structure')}.E_f.{lim}"
    return num_html(as_dict(entry.get("E_f")).get(lim), 3) + esc(
        interval_text(summary, path, 3))


def growth_section(summary: Mapping[str, Any]) -> list[str]:
    g = as_dict(summary.get("growth"))
    out = ['<h2 id="growth">Growth</h2>']
    meta = []
    if g.get("model"):
        meta.append(f"model: <code>{esc(g.get('model'))}</code>")
    if num(g.get("temperature_C")) is not None:
        meta.append(f"temperature {num_html(g.get('temperature_C'), 1)} °C")
    if meta:
        out.append(f"<p>{'; '.join(meta)}. Rates relative to the fastest facet; anisotropy "
                   "index = max/min rate; aspect ratio = largest / smallest caliper width "
                   "of the kinetic Wulff shape.</p>")
    cases = as_dict(g.get("cases"))
    if cases:
        rows = [_growth_row(summary, str(name), as_dict(c)) for name, c in cases.items()]
        out.append(table(["case", "anisotropy index", "aspect ratio",
                           "ranking (fastest first)", "relative rates",
                           "facet area fractions", "note"], rows, numeric={1, 2}))
        out.append("<p>[low, high]: 90 % interval over the Monte Carlo samples "
                   "(summary.json: uncertainty); the shapes of each facet's median, 5 % and "
                   "95 % rate are drawn under the predicted shapes.</p>")
    else:
        out.append("<p>Growth cases: not computed.</p>")
    assumptions = [a for a in as_list(g.get("assumptions")) if a is not None]
    out.append("<h3>Assumptions of the growth model</h3>")
    if assumptions:
        out.append("<ul>" + "".join(f"<li>{esc(a)}</li>" for a in assumptions) + "</ul>")
    else:
        out.append("<p>none stated</p>")
    return out


def _growth_row(summary: Mapping[str, Any], name: str, c: Mapping[str, Any]) -> tuple:
    """One growth case of the growth table, with the intervals of its anisotropy index,
    aspect ratio and facet area fractions where there are error bars."""
    at = f"growth.cases.{name}"
    shape = as_dict(c.get("shape"))
    rates = as_dict(c.get("rates"))
    fr = as_dict(shape.get("facet_area_fractions"))
    notes = [str(x) for x in (c.get("note"), shape.get("error")) if x]
    return (
        name,
        ratio_html(c.get("anisotropy_index"))
        + esc(interval_text(summary, f"{at}.anisotropy_index", ratio=True)),
        num_html(shape.get("aspect_ratio"), 2)
        + esc(interval_text(summary, f"{at}.shape.aspect_ratio")),
        " > ".join(f"{{{k}}}" for k in as_list(c.get("ranking"))) or None,
        ", ".join(f"{{{k}}} {number_text(v, 3)}" for k, v in rates.items()) or None,
        ", ".join(f"{{{k}}} {number_text(v, 2)}"
                  + interval_text(summary, f"{at}.shape.facet_area_fractions.{k}")
                  for k, v in fr.items()) or None,
        "; ".join(notes) or None)


def delta_mu_section(summary: Mapping[str, Any]) -> list[str]:
    """Per species of ``growth_vs_delta_mu``: a table of Delta mu (eV), and per growth
    case the ranking, the anisotropy index with its interval and the probability of each
    facet being fastest (``uncertainty.delta_mu``). Nothing without a sweep."""
    sweeps = as_dict(summary.get("growth_vs_delta_mu"))
    if not sweeps:
        return []
    out = ['<h2 id="delta-mu">Growth as a chemical potential moves</h2>',
           "<p>Δμ (eV) from the study's reference (a bound species' E_b moves by −Δμ); "
           "anisotropy index = fastest / slowest rate [90 % interval]; fastest in: the "
           "share of the Monte Carlo samples (the same samples at every Δμ).</p>"]
    probs = as_dict(as_dict(summary.get("uncertainty")).get("delta_mu"))
    for species, rows in sweeps.items():
        ranked = as_list(probs.get(species))
        body = []
        for i, r in enumerate(as_list(rows)):
            r = as_dict(r)
            p = as_dict(as_dict(ranked[i]).get("cases")) if i < len(ranked) else {}
            for case, c in as_dict(r.get("cases")).items():
                c = as_dict(c)
                at = f"growth_vs_delta_mu.{species}.{i}.cases.{case}.anisotropy_index"
                fastest = sorted(as_dict(as_dict(p.get(case)).get("fastest")).items(),
                                 key=lambda kv: -kv[1])
                d = num(r.get("delta_mu"))
                body.append((None if d is None else f"{d:+.2f}", case,
                             " > ".join(f"{{{k}}}" for k in as_list(c.get("ranking")))
                             or None,
                             ratio_html(c.get("anisotropy_index"))
                             + esc(interval_text(summary, at, ratio=True)),
                             ", ".join(f"{{{k}}} {100 * v:.0f} %" for k, v in fastest
                                       if v > 0) or None))
        out.append(f"<h3>μ_{esc(species)}</h3>")
        out.append(table(["Δμ (eV)", "case", "ranking (fastest first)", "anisotropy index",
                          "fastest in (samples)"], body, numeric={3}))
    return out


def comparison_section(summary: Mapping[str, Any]) -> list[str]:
    df = comparison_frame(summary)
    if df.empty:
        return []
    head = "".join(f"<th>{h}</th>" for h in ("finding", "paper", "this run", "verdict",
                                               "engine", "run"))
    body = []
    for r in df.itertuples(index=False):
        verdict = str(r.verdict) if r.verdict is not None else ""
        cls = "verdict-" + re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")
        body.append(f"<tr>{td(r.finding)}{td(r.paper)}{td(r.this_run)}"
                    f'<td class="{cls}">{esc(verdict) if verdict else NA}</td>'
                    f"{td(r.engine)}{td(r.run)}</tr>")
    return ['<h2 id="paper">Comparison with the paper</h2>',
            f"<table><tr>{head}</tr>{''.join(body)}</table>"]


def missing_section(summary: Mapping[str, Any]) -> list[str]:
    out = ['<h2 id="missing">Missing or failed calculations</h2>']
    missing = [m for m in as_list(summary.get("missing")) if m is not None]
    out.append("<h3>Missing structures</h3>")
    if missing:
        rows = [(as_dict(m).get("structure", m if not isinstance(m, Mapping) else None),
                 as_dict(m).get("reason")) for m in missing]
        out.append(table(["structure", "reason"], rows))
    else:
        out.append("<p>none</p>")
    problems = [p for p in as_list(summary.get("store_problems")) if p is not None]
    out.append("<h3>Store problems</h3>")
    if problems:
        rows = [(as_dict(p).get("calc_hash", p if not isinstance(p, Mapping) else None),
                 as_dict(p).get("reason")) for p in problems]
        out.append(table(["calculation", "reason"], rows))
    else:
        out.append("<p>none</p>")
    return out
