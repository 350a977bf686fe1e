"""Re-wrapping every data key under a new root key (`manage.py rotate_root_key`).

Only wrapped data keys change; ciphertexts stay as they are. Each row is updated only if it still
carries the key id that was read, so a concurrent write is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import models, transaction

from console import crypto
from console.models import SealedFields


def sealed_models() -> list[type[SealedFields]]:
    return [m for m in apps.get_models() if issubclass(m, SealedFields)]


def count_not_under(key_id: str) -> int:
    return sum(
        m._default_manager.exclude(sealed_key_id="").exclude(sealed_key_id=key_id).count()
        for m in sealed_models()
    )


@dataclass
class RewrapResult:
    rewrapped: int = 0
    skipped_concurrent: int = 0


def rewrap_all(*, keyring: crypto.Keyring, batch_size: int = 200) -> RewrapResult:
    """Wrap every data key under `keyring.active_id`; return how many rows changed."""
    result = RewrapResult()
    for model in sealed_models():
        manager: models.Manager[SealedFields] = model._default_manager
        while True:
            batch = list(
                manager.exclude(sealed_key_id="")
                .exclude(sealed_key_id=keyring.active_id)
                .values("pk", "sealed_key_id", "sealed_wrapped_key", "sealed_ciphertext")[
                    :batch_size
                ]
            )
            if not batch:
                break
            with transaction.atomic():
                for row in batch:
                    wrapped_key, ciphertext = row["sealed_wrapped_key"], row["sealed_ciphertext"]
                    # A row with a key id holds both (SealedFields sets the three together).
                    assert wrapped_key is not None and ciphertext is not None
                    sealed = crypto.Sealed(
                        key_id=row["sealed_key_id"],
                        wrapped_key=bytes(wrapped_key),
                        ciphertext=bytes(ciphertext),
                    )
                    fresh = crypto.rewrap(sealed, keyring=keyring)
                    changed = manager.filter(
                        pk=row["pk"], sealed_key_id=row["sealed_key_id"]
                    ).update(sealed_key_id=fresh.key_id, sealed_wrapped_key=fresh.wrapped_key)
                    if changed:
                        result.rewrapped += 1
                    else:
                        result.skipped_concurrent += 1
    return result
