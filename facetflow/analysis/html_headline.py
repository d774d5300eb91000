"""The conclusions at the top of report.html (``<section id="headline">``): theta* and
gamma* per facet and ligand (meV/Å²), binding energies (eV, negative = bound), growth
ranking and anisotropy index of each case, and the verdicts of the paper comparison."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from facetflow.analysis.html_format import (
    NA,
    card,
    esc,
    num_html,
    ratio_html,
    series_label,
    table,
)
from facetflow.analysis.summary_view import (
    ROLE_ORDER,
    as_dict,
    as_list,
    binding_entries,
    binding_path,
    facets_of,
    growth_references,
    interval_text,
    ligand_rank,
    num,
    order_ligands,
)
from facetflow.analysis.tables import comparison_frame


def headline_section(summary: Mapping[str, Any]) -> list[str]:
    """The study's conclusions, compact enough for one screen: theta* / gamma* per facet
    and ligand, binding energies, growth ranking and anisotropy per case, and the paper
    comparison's verdicts. Each card links to its detailed section below."""
    cards = [_headline_optimum(summary), _headline_binding(summary),
             _headline_growth(summary), _headline_paper(summary),
             _headline_uncertainty(summary)]
    return ['<section id="headline" class="headline">', "<h2>Conclusions</h2>",
            '<div class="cards">', *[c for c in cards if c], "</div>", "</section>"]


def _headline_optimum(summary: Mapping[str, Any]) -> str:
    """Rows: ligands and variants (each ligand first); two columns per facet: theta*
    (2 decimals) and gamma* (meV/Å^2, 1 decimal), the lowest gamma* of a facet in bold."""
    facets = {k: as_dict(as_dict(f).get("optimum")) for k, f in facets_of(summary).items()}
    keys = order_ligands(k for opt in facets.values() for k in opt)
    title = "Optimal coverage θ* and interfacial energy γ*"
    if not keys:
        return card(title, "facets", ['<p class="na">not computed</p>'])
    head1 = '<tr><th rowspan="2">ligand / variant</th>' + "".join(
        f'<th colspan="2">{{{esc(f)}}}</th>' for f in facets) + "</tr>"
    head2 = "<tr>" + "<th>θ*</th><th>γ*</th>" * len(facets) + "</tr>"
    best = {}
    for f, opt in facets.items():
        values = [v for k in keys if (v := num(as_dict(opt.get(k)).get("value"))) is not None]
        best[f] = min(values) if len(values) > 1 else None
    edge = False
    body = []
    for k in keys:
        cells = [f"<td>{esc(series_label(k))}</td>"]
        for f, opt in facets.items():
            o = as_dict(opt.get(k))
            theta, gamma = num(o.get("theta")), num(o.get("value"))
            mark = ""
            if theta is not None and "end of the range" in str(o.get("method") or ""):
                mark, edge = "†", True
            t = NA if theta is None else esc(f"{theta:.2f}") + mark
            g = NA if gamma is None else esc(f"{gamma:.1f}")
            if gamma is not None and gamma == best[f]:
                g = f"<strong>{g}</strong>"
            cells.append(f'<td class="num">{t}</td><td class="num">{g}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    note = ("θ*: ligands per surface cation; γ*: interfacial energy at θ* (meV/Å²); bold: "
            "the lowest γ* of the facet.")
    if edge:
        note += " †: at the end of the computed range (the optimum may lie beyond)."
    return card(title, "facets", [f"<table>{head1}{head2}{''.join(body)}</table>",
                                   f'<p class="note">{note}</p>'])


def _headline_binding(summary: Mapping[str, Any]) -> str:
    """Rows: species per ligand sweep (ligand, additives, growth species); one column per
    facet: E_b (eV, 2 decimals)."""
    facets = facets_of(summary)
    per_facet = {f: binding_entries(v) for f, v in facets.items()}
    seen: dict[tuple[str | None, str, str], int] = {}
    values: dict[tuple[str, tuple[str | None, str, str]], float | None] = {}
    spans: dict[tuple[str, tuple[str | None, str, str]], str] = {}
    for f, entries in per_facet.items():
        for sweep, b in entries:
            key = (sweep, str(b.get("species") or "?"), str(b.get("role") or ""))
            seen.setdefault(key, len(seen))
            values.setdefault((f, key), num(b.get("value")))
            spans.setdefault((f, key), interval_text(summary, binding_path(f, b)))
    title = "Binding energies E_b (eV)"
    if not seen:
        return card(title, "binding", ['<p class="na">not computed</p>'])
    rank = ligand_rank(k[0] for k in seen if k[0] is not None)
    rows = sorted(seen, key=lambda k: (rank.get(k[0], -1) if k[0] is not None else -1,
                                       ROLE_ORDER.get(k[2], 9), seen[k]))
    sweeps = list(dict.fromkeys(k[0] for k in rows))
    head = "<tr><th>species</th>" + "".join(f"<th>{{{esc(f)}}}</th>" for f in facets) + "</tr>"
    body = []
    for key in rows:
        if len(sweeps) > 1 and key[0] is not None and key == next(
                k for k in rows if k[0] == key[0]):
            body.append(f'<tr><td class="group" colspan="{len(facets) + 1}">at θ* of '
                        f"{esc(key[0])}</td></tr>")
        role = f' <span class="note">{esc(key[2])}</span>' if key[2] else ""
        cells = "".join(f'<td class="num">{num_html(values.get((f, key)), 2)}'
                        f'<span class="note">{esc(spans.get((f, key), ""))}</span></td>'
                        if (f, key) in values else f'<td class="num">{NA}</td>'
                        for f in facets)
        body.append(f"<tr><td>{esc(key[1])}{role}</td>{cells}</tr>")
    return card(title, "binding", [
        f"<table>{head}{''.join(body)}</table>",
        '<p class="note">At the optimal coverage θ*; negative = bound; [low, high]: '
        "90 % interval (summary.json: uncertainty).</p>"])


def _headline_growth(summary: Mapping[str, Any]) -> str:
    """One row per growth case: ranking (fastest first), anisotropy index, aspect ratio."""
    cases = as_dict(as_dict(summary.get("growth")).get("cases"))
    title = "Growth"
    if not cases:
        return card(title, "growth", ['<p class="na">not computed</p>'])
    rows = []
    ranks = as_dict(as_dict(summary.get("uncertainty")).get("ranking"))
    for name, c in cases.items():
        c = as_dict(c)
        ranking = " > ".join(f"{{{k}}}" for k in as_list(c.get("ranking")))
        fastest = sorted(as_dict(as_dict(ranks.get(name)).get("fastest")).items(),
                         key=lambda kv: -kv[1])
        rows.append((esc(name), f'<span class="ranking">{esc(ranking)}</span>' if ranking
                     else esc(c.get("note") or "not computed"),
                     esc(", ".join(f"{{{k}}} {100 * v:.0f} %" for k, v in fastest if v > 0))
                     or NA,
                     ratio_html(c.get("anisotropy_index")) + esc(interval_text(
                         summary, f"growth.cases.{name}.anisotropy_index", ratio=True)),
                     num_html(as_dict(c.get("shape")).get("aspect_ratio"), 2)
                     + esc(interval_text(summary, f"growth.cases.{name}.shape.aspect_ratio"))))
    refs = "; ".join(growth_references(summary))
    return card(title, "growth", [
        table(["case", "ranking (fastest first)", "fastest in (samples)", "anisotropy index",
               "aspect ratio"], rows, numeric={3, 4}, markup={0, 1, 2}),
        '<p class="note">Anisotropy index: fastest / slowest relative growth rate (1 = '
        "isotropic) [90 % interval]; aspect ratio of the kinetic Wulff shape [90 % interval]."
        + (f" Growth species and additives priced by: {esc(refs)}." if refs else "")
        + "</p>"])


def _headline_paper(summary: Mapping[str, Any]) -> str:
    """How many findings agree, and each finding's verdict."""
    df = comparison_frame(summary)
    title = "Paper findings"
    if df.empty:
        return card(title, None, [
            '<p class="na">no paper to compare with (analysis.compare_with not set)</p>'])
    runs = [r for r in dict.fromkeys(df.run) if isinstance(r, str) and r]
    several = len(runs) > 1
    counts = []
    for run in (runs if several else [None]):
        rows = df if run is None else df[df.run == run]
        verdicts = [str(v) if isinstance(v, str) else "no verdict" for v in rows.verdict]
        others = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts)
                           if v != "agrees")
        counts.append((f"{esc(run)}: " if run else "")
                      + f"{verdicts.count('agrees')} of {len(rows)} agree"
                      + (f" ({esc(others)})" if others else ""))
    items = []
    for r in df.itertuples(index=False):
        verdict = str(r.verdict) if isinstance(r.verdict, str) else ""
        cls = "verdict-" + re.sub(r"[^a-z]+", "-", verdict.lower()).strip("-")
        text = r.finding if isinstance(r.finding, str) and r.finding else r.this_run
        run = f' <span class="note">({esc(r.run)})</span>' if several and r.run else ""
        p = num(getattr(r, "probability", None))
        prob = (f' <span class="note">(agrees in {100 * p:.0f} % of samples: '
                f'{esc(getattr(r, "robustness", ""))})</span>' if p is not None else "")
        items.append(f'<li><span class="{cls}">{esc(verdict) if verdict else NA}</span> '
                     f"{esc(text) if isinstance(text, str) else NA}{run}{prob}</li>")
    return card(title, "paper", [f"<p>{'; '.join(counts)}.</p>",
                                  f"<ul>{''.join(items)}</ul>"])


def _headline_uncertainty(summary: Mapping[str, Any]) -> str:
    """Where the error bars come from: each source (configurations, model, calibration)
    with how it entered or why it did not, and the samples."""
    u = as_dict(summary.get("uncertainty"))
    if not u:
        return ""
    src = as_dict(u.get("sources"))
    names = {"configurations": "configurations (starts)", "model": "model (committee)",
             "calibration": "calibration (ML − DFT)"}
    rows = [(names[k], "used" if as_dict(src.get(k)).get("used") else "not used",
             str(as_dict(src.get(k)).get("note") or "")) for k in names]
    pct = round(100 * (num(u.get("interval")) or 0.9))
    return card("Error bars", None, [
        table(["source", "", "how"], rows),
        f'<p class="note">{pct} % intervals and probabilities from {esc(u.get("samples"))} '
        "Monte Carlo samples over the correlated energies (summary.json: uncertainty); a "
        f"finding is robust at ≥ {100 * (num(u.get('robust_threshold')) or 0.9):.0f} % "
        "agreement.</p>"])
