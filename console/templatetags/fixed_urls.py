"""`{% fixed_url 'secrets:list' %}`: the URL of a view that takes no arguments, reversed once
per process instead of once per use.

Every console page prints the navigation's links (a dozen reverses) and the Secrets table
adds four more; each `{% url %}` reverse cost about 30 µs, half a millisecond of a list page
that the floor page (issue 13) does not pay. Such a URL depends only on the URLconf and the
script prefix, which are part of the cache's key; a test that swaps the URLconf gets its own
entries, and a change of ROOT_URLCONF empties the cache as it empties Django's own.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@register.simple_tag
def fixed_url(name: str) -> str:
    return _reversed(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@lru_cache(maxsize=256)
def _reversed(name: str, prefix: str, urlconf: Any) -> str:
    # `prefix` is only part of the key: reverse() reads the current script prefix itself.
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME"}:
        _reversed.cache_clear()
