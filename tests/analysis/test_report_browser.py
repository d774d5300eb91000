"""report.html in a real browser: Debian's headless Chromium (``apt-get install chromium``)
loads the report written from the summary fixture (tests/data/summary_fixture.json, with
its figures; no calculations), once to dump the rendered DOM and once to take a
screenshot of the first screen.

Skipped only where /usr/bin/chromium is missing and ``CI`` is not set; in CI it must run.
"""

import os
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DATA = Path(__file__).resolve().parents[1] / "data" / "summary_fixture.json"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = (1280, 900)
HEADLINE_BG = (0xF7, 0xF9, 0xFC)  # section.headline's background in html.CSS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="no /usr/bin/chromium (apt-get install -y --no-install-recommends chromium); "
           "required where CI is set")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """report.html (with tables and figures) written the way `facetflow report` writes it."""
    import json

    from facetflow.analysis.report import write_report_files

    out = tmp_path_factory.mktemp("report")
    path = write_report_files(json.loads(DATA.read_text(encoding="utf-8")), out)
    assert path == out / "report.html" and path.is_file()
    return path


def chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing (CI is set: this test must run)"
    profile = tmp / "chromium-profile"
    proc = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=60, cwd=tmp,
        env={**os.environ, "HOME": str(tmp)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_rendered_dom_has_the_conclusions_before_the_provenance(report, tmp_path):
    dom = chromium(report, tmp_path, "--dump-dom").stdout
    assert "<tbody>" in dom  # parsed and serialised by the browser, not echoed
    head, prov = dom.find('id="headline"'), dom.find('id="provenance"')
    assert 0 <= head < prov, (head, prov)
    assert head < dom.find('id="facets"') < prov
    assert head < dom.find("<figure") and head < dom.find("<svg")
    section = dom[head:dom.index("</section>", head)]
    for text in ("Conclusions", "{111} &gt; {110} &gt; {100}",  # growth ranking, no F
                 "{110} &gt; {100} &gt; {111}", "2.22", "1.28",  # anisotropy index
                 "θ*", "8.2", "-1.60", "2 of 2 agree"):
        assert text in section, text
    assert "chgnet 0.4.2" not in section and "chgnet 0.4.2" in dom[prov:]


def test_screenshot_shows_the_conclusions_on_the_first_screen(report, tmp_path):
    import matplotlib.image
    import numpy as np

    shot = tmp_path / "shot.png"
    chromium(report, tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    assert shot.is_file() and shot.stat().st_size > 10_000
    rgb = np.asarray(matplotlib.image.imread(shot))[..., :3]
    assert rgb.shape[:2] == (WINDOW[1], WINDOW[0])
    top = rgb[: WINDOW[1] // 2]
    grey = top.mean(axis=2) * 255
    assert grey.std() > 15, f"the top of the page is blank (std {grey.std():.1f})"
    assert (grey < 100).mean() > 0.01  # dark text, not a plain background
    # the headline box (its background colour) starts on the first screen and ends on it
    box = np.all(np.abs(rgb * 255 - np.array(HEADLINE_BG)) < 2, axis=2).any(axis=1)
    rows = np.flatnonzero(box)
    assert rows.size, "the headline section is not on the first screen"
    assert rows.min() < 250 and rows.max() < WINDOW[1] - 20, (rows.min(), rows.max())
