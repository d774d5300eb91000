"""Writing a build: ``structures/<id>.extxyz``, ``pictures/<id>.png`` and ``manifest.json``.

Everything is written to a staging folder next to the target and moved into place only
when complete; ``manifest.json`` is replaced last, so a reader never sees a manifest that
names a missing or half-written file, and a failed build leaves the target untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ase.io import write

from facetflow import __version__
from facetflow.records.structure import Manifest, ManifestError, read_manifest
from facetflow.structures.built import BuiltStructure


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_build(structures: list[BuiltStructure], out_dir: Path, pictures: bool = True,
                study: str | None = None) -> Path:
    """Write ``structures`` under ``out_dir`` (``study``: its name, for the manifest);
    returns the manifest path. A picture whose structure file is unchanged since the last
    build (same sha256) is copied, not drawn again (a rerun of a large study rewrites its
    build in seconds)."""
    out_dir = Path(out_dir)
    previous = _previous_pictures(out_dir) if pictures else {}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir.parent / f".{out_dir.name}.staging-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    try:
        (stage / "structures").mkdir(parents=True)
        if pictures:
            (stage / "pictures").mkdir()
        entries = []
        for s in structures:
            rec = s.record
            write(stage / rec.file, s.atoms, format="extxyz")
            written = {"sha256": sha256_file(stage / rec.file)}
            if pictures:
                pic = f"pictures/{rec.id}.png"
                old = previous.get((rec.id, written["sha256"]))
                if old is not None:
                    shutil.copyfile(old, stage / pic)
                else:
                    # matplotlib (~0.3 s to import) only when a picture is drawn
                    from facetflow.structures.pictures import render

                    render(s.atoms, stage / pic, title=rec.id)
                written["picture"] = pic
            entries.append(rec.model_copy(update=written))
        Manifest(study=study, facetflow=__version__, structures=entries).write(
            stage / "manifest.json")
        _move_into_place(stage, out_dir)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    return out_dir / "manifest.json"


def _previous_pictures(out_dir: Path) -> dict[tuple[str, str], Path]:
    """(structure id, sha256 of its structure file) -> its existing picture."""
    try:
        entries = read_manifest(out_dir / "manifest.json").structures
    except (OSError, ValueError):  # none yet, or of another facetflow: draw them again
        return {}
    found = {(e.id, e.sha256): out_dir / e.picture for e in entries if e.picture}
    return {k: v for k, v in found.items() if v.is_file()}


def _move_into_place(stage: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(stage, out_dir)
        return
    old = out_dir / "manifest.json"
    stale: set[str] = set()
    try:
        for e in read_manifest(old).structures:
            stale |= {e.file, e.picture} - {None}
    except (OSError, ManifestError, ValueError):
        stale = set()  # no manifest, or one of another facetflow: nothing known stale
    for sub in ("structures", "pictures"):
        src = stage / sub
        if not src.is_dir():
            continue
        (out_dir / sub).mkdir(exist_ok=True)
        for f in sorted(src.iterdir()):
            os.replace(f, out_dir / sub / f.name)
            stale.discard(f"{sub}/{f.name}")
    os.replace(stage / "manifest.json", old)
    for rel in stale:
        (out_dir / rel).unlink(missing_ok=True)
