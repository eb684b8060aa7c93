"""The map's front-end files, served by the app itself so the map works with no CDN reachable
(and axe-core, which tests/test_e2e_a11y.py injects into every page).

folium and its plugins link Leaflet, jQuery, Bootstrap, Font Awesome and the marker plugins
from public CDNs; a council network or CI often blocks those and the map is then blank.
``python -m dashboard.assets install`` fetches the pinned npm packages listed in
``assets.json`` with npm, copies the listed files into ``dashboard/static/vendor/``
(git-ignored) and touches a stamp; Streamlit serves that folder at ``/app/static/vendor/``
(``server.enableStaticServing``) and ``use_local_assets()`` points folium there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import folium
import folium.plugins

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "assets.json"
VENDOR = HERE / "static" / "vendor"
STAMP = VENDOR / ".installed"
URL_BASE = "/app/static/vendor"
_FOLIUM_CLASSES = {"Map": folium.Map, "MarkerCluster": folium.plugins.MarkerCluster,
                   "Draw": folium.plugins.Draw}


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def missing() -> list[str]:
    """Vendor files the manifest lists that are not installed."""
    out = []
    for files in manifest()["packages"].values():
        out += [dest for dest in files.values() if not (VENDOR / dest).exists()]
    return out


def install(build_dir: Path | None = None) -> None:
    """npm install the pinned packages into a build folder and copy the listed files."""
    spec = manifest()["packages"]
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(build_dir or tmp)
        build.mkdir(parents=True, exist_ok=True)
        (build / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-save",
             "--prefix", str(build), *spec],
            check=True,
        )
        for package, files in spec.items():
            name = package.rsplit("@", 1)[0]
            root = build / "node_modules" / name
            for src, dest in files.items():
                source, target = root / src, VENDOR / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    shutil.copyfile(source, target)
    STAMP.touch()


def use_local_assets(base: str = URL_BASE) -> None:
    """Point folium (and the plugins used here) at the app's own copies of its JS and CSS."""
    for cls_name, kinds in manifest()["folium"].items():
        cls = _FOLIUM_CLASSES[cls_name]
        cls.default_js = [(key, f"{base}/{path}") for key, path in kinds["js"].items()]
        cls.default_css = [(key, f"{base}/{path}") for key, path in kinds["css"].items()]


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "install":
        install(Path(argv[1]) if len(argv) > 1 else None)
    left = missing()
    for path in left:
        print(f"missing: dashboard/static/vendor/{path}", file=sys.stderr)
    if not left:
        print(f"map assets ready in {VENDOR}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
