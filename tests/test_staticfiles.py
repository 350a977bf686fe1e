"""collectstatic as production runs it (console/staticfiles.py): the console's own CSS and JS are
served minified, hashed and compressed; every other package's files are copied as shipped."""

from __future__ import annotations

import json
from pathlib import Path

import brotli
import pytest
import rcssmin
import rjsmin
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

SOURCES = Path(settings.BASE_DIR) / "static"
STORAGE = "console.staticfiles.MinifiedManifestStaticFilesStorage"


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("static")
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": STORAGE}}
    with override_settings(STATIC_ROOT=root, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((root / "staticfiles.json").read_text())["paths"]
    return root, manifest


@pytest.mark.parametrize(
    ("name", "minify"),
    [
        ("css/app.css", rcssmin.cssmin),
        ("css/features.css", rcssmin.cssmin),
        ("js/app.js", rjsmin.jsmin),
        ("js/reveal.js", rjsmin.jsmin),
    ],
)
def test_the_consoles_own_css_and_js_are_served_minified(collected, name, minify):
    root, manifest = collected
    source = (SOURCES / name).read_text()
    assert "/*" in source or "//" in source  # the sources keep their explanations
    served = root / manifest[name]
    text = served.read_text()
    assert text == minify(source)
    assert "/*" not in text and "\n//" not in text
    assert len(text) < 0.8 * len(source)
    # The hashed name is the hash of what is served, and the compressed copies are of it too.
    assert manifest[name] != name
    assert brotli.decompress((root / f"{manifest[name]}.br").read_bytes()).decode() == text


def test_other_packages_files_are_copied_as_shipped(collected):
    root, manifest = collected
    import django

    admin_css = Path(django.__file__).parent / "contrib/admin/static/admin/css/base.css"
    # The copy under its own name (the hashed one has its url()s rewritten to hashed names).
    assert (root / "admin/css/base.css").read_text() == admin_css.read_text()
    assert "DJANGO Admin styles" in (root / manifest["admin/css/base.css"]).read_text()
    swagger = "vendor/swagger-ui/swagger-ui-bundle.js"
    assert (root / manifest[swagger]).read_bytes() == (SOURCES / swagger).read_bytes()
    htmx = next(name for name in manifest if name.startswith("django_htmx/htmx"))
    assert (root / manifest[htmx]).stat().st_size > 10_000
