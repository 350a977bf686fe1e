"""Compressed HTML pages, never a response that may carry a secret value.

Django's GZipMiddleware does the compressing (it already pads each response with random bytes
against BREACH-style length guessing). Compression makes a response's length depend on how much
of its text repeats, so an attacker who can both put text into a page (a reflected query
parameter) and watch its compressed length can guess a secret in the same page, a byte at a
time (BREACH). That needs a secret in the body. This middleware therefore compresses only
answers that carry none:

- HTML only (text/html): static files come compressed from WhiteNoise already; the API's
  JSON may hold payloads and stays as it is;
- answers to GET and HEAD only: a POST's answer (a Reveal, a new API key shown once) echoes
  what was just done, values included;
- never a response marked `Cache-Control: no-store` (never_cache and the views that set it:
  Reveal, tokens, wizard steps), the marker of everything that may hold a value;
- never a response that declares `Content-Encoding` already.

The CSRF token in console pages is masked with fresh random bytes on every response, so it
gives a length attack nothing to converge on; the session cookie is a header, never compressed.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware

COMPRESSIBLE_METHODS = frozenset({"GET", "HEAD"})
_DIRECTIVES = re.compile(r"\s*,\s*")


def may_compress(request: HttpRequest, response: HttpResponseBase) -> bool:
    if request.method not in COMPRESSIBLE_METHODS:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    directives = {d.strip().lower() for d in _DIRECTIVES.split(response.get("Cache-Control", ""))}
    return "no-store" not in directives


class SafeGZipMiddleware(GZipMiddleware):
    """GZipMiddleware for the responses `may_compress` allows (see the module docstring)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not may_compress(request, response):
            return response
        return super().process_response(request, response)
