"""Static files as production serves them: the console's own CSS and JavaScript minified, then
hashed and compressed (WhiteNoise's CompressedManifestStaticFilesStorage).

The sources in `static/` keep their comments, which explain why each rule is there; the copies
that `collectstatic` writes have none. Minifying is left to rcssmin and rjsmin (small, well-kept
minifiers with no dependencies that only remove what changes nothing: comments and
whitespace), so the served files mean exactly what the sources say.

Only files of the project's own `STATICFILES_DIRS` are minified, and of those not an
already-minified `*.min.*` or anything under `vendor/`: the Django admin's files, django-htmx's
htmx and the Swagger UI bundle are copied as their packages ship them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import rcssmin
import rjsmin
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from whitenoise.storage import CompressedManifestStaticFilesStorage

MINIFIERS: dict[str, Callable[[str], str]] = {
    ".css": rcssmin.cssmin,
    ".js": rjsmin.jsmin,
}


def _own_dirs() -> set[Path]:
    dirs = set()
    for entry in settings.STATICFILES_DIRS:
        path = entry[1] if isinstance(entry, tuple) else entry
        dirs.add(Path(path).resolve())
    return dirs


def minifiable(name: str, source: Storage) -> bool:
    """A CSS or JS file of the project's own static folders that its authors did not minify."""
    path = Path(name)
    if path.suffix not in MINIFIERS or ".min." in path.name or path.parts[0] == "vendor":
        return False
    location = getattr(source, "location", None)
    return location is not None and Path(location).resolve() in _own_dirs()


class MinifiedManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Minify the console's own CSS and JS in STATIC_ROOT, then hash and compress as before.

    collectstatic has copied every file when `post_process` runs; the hashing reads each file
    from the storage named in `paths`, so a minified file is pointed at this storage's copy and
    its hashed name is the hash of what is served.
    """

    def post_process(  # type: ignore[override]
        self, paths: dict[str, tuple[Storage, str]], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str, bool]]:
        if not dry_run:
            paths = dict(paths)
            for name, (source, path) in list(paths.items()):
                if not minifiable(name, source):
                    continue
                with source.open(path) as original:
                    text = original.read().decode("utf-8")
                minified = MINIFIERS[Path(name).suffix](text)
                self.delete(name)
                self._save(name, ContentFile(minified.encode("utf-8")))
                paths[name] = (self, name)
        yield from super().post_process(paths, dry_run=dry_run, **options)
