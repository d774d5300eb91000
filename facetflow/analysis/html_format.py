"""Formatting for report.html: escaping, numbers, tables and cards. Every text from the
summary is escaped here; a missing number is shown as the n/a mark (``NA``)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from facetflow.analysis.summary_view import (
    as_dict,
    num,
    ratio_text,
    split_ligand_key,
)

NA = '<span class="na">—</span>'


def esc(x: Any) -> str:
    return html.escape(str(x))


def jsonish(v: Any) -> str:
    if isinstance(v, (Mapping, list, tuple)):
        return json.dumps(v, default=str, ensure_ascii=False)
    return "" if v is None else str(v)


def number_text(v: Any, digits: int) -> str:
    x = num(v)
    return "—" if x is None else f"{x:.{digits}f}"


def num_html(v: Any, digits: int) -> str:
    """A number as escaped HTML, or the n/a mark."""
    x = num(v)
    return NA if x is None else esc(f"{x:.{digits}f}")


def ratio_html(v: Any) -> str:
    """A ratio such as the anisotropy index (``summary_view.ratio_text``) as escaped HTML."""
    x = num(v)
    return NA if x is None else esc(ratio_text(x))


def gamma_html(g: Any) -> str:
    g = as_dict(g)
    v, j = num(g.get("value")), num(g.get("j_m2"))
    if v is None:
        return NA
    return esc(f"{v:.2f}" + (f" ({j:.3f})" if j is not None else ""))


def td(v: Any) -> str:
    blank = v is None or v == "" or (isinstance(v, float) and math.isnan(v))
    return f"<td>{NA if blank else esc(v)}</td>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]],
           numeric: Collection[int] = (), markup: Collection[int] = ()) -> str:
    """Rows of plain values (escaped here), except the columns in ``numeric``, which hold
    HTML already made by ``_n``, and in ``markup``, HTML already made (not numbers)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if i in numeric:
                cells.append(f'<td class="num">{v}</td>')
            elif i in markup:
                cells.append(f"<td>{v}</td>")
            else:
                cells.append(td(v))
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def card(title: str, anchor: str | None, body: list[str]) -> str:
    link = f' <a class="note" href="#{anchor}">details</a>' if anchor else ""
    return f'<div class="card"><h3>{title}{link}</h3>{"".join(body)}</div>'


def series_label(key: str) -> str:
    """"acetate+F" -> "acetate + F" (as in the figure legends)."""
    lig, var = split_ligand_key(key)
    return lig if var is None else f"{lig} + {var}"
