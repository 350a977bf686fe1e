"""Rotate the root key: re-wrap every data key under a new root key, with no downtime.

Key-file mode (no SM_ROOT_KEY): a new key is generated and written to the key file next to the
old one, every data key is re-wrapped, and only then is the old key dropped from the file. Running
processes pick up the changed file on their next encrypt or decrypt.

SM_ROOT_KEY mode: the operator first restarts with SM_ROOT_KEY set to the new key and
SM_ROOT_KEYS_OLD listing the old one, then runs this command, then removes SM_ROOT_KEYS_OLD.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console import crypto
from secrets_app.key_rotation import count_not_under, rewrap_all


class Command(BaseCommand):
    help = "Re-wrap every data key under a new root key (see the README's 'Root key' section)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if settings.SM_ROOT_KEY:
            self._rotate_env(batch_size)
        else:
            self._rotate_file(Path(settings.SM_ROOT_KEY_FILE), batch_size)

    def _rotate_env(self, batch_size: int) -> None:
        crypto.reset_keyring_cache()
        keyring = crypto.current_keyring()
        if len(keyring.keys) == 1 and count_not_under(keyring.active_id) == 0:
            self.stdout.write(
                f"Every data key is already wrapped under {keyring.active_id}. To rotate, restart "
                "with SM_ROOT_KEY set to a new key and SM_ROOT_KEYS_OLD to the current one, then "
                "run this command again."
            )
            return
        result = rewrap_all(keyring=keyring, batch_size=batch_size)
        remaining = count_not_under(keyring.active_id)
        if remaining:
            raise CommandError(
                f"{remaining} data keys are still wrapped under other root keys; run the command again."
            )
        self.stdout.write(
            f"Re-wrapped {result.rewrapped} data keys under {keyring.active_id}. "
            "SM_ROOT_KEYS_OLD can now be removed."
        )

    def _rotate_file(self, path: Path, batch_size: int) -> None:
        crypto.reset_keyring_cache()
        old = crypto.load_or_create_key_file(path)
        new_key = crypto.generate_root_key()
        transition = crypto.Keyring(
            active_id=crypto.key_id_for(new_key),
            keys={**old.keys, crypto.key_id_for(new_key): new_key},
        )
        # Step 1: new writes use the new key; both stay readable.
        crypto.write_key_file(path, transition)
        crypto.reset_keyring_cache()
        total = 0
        for _attempt in range(5):
            total += rewrap_all(keyring=transition, batch_size=batch_size).rewrapped
            if count_not_under(transition.active_id):
                continue
            # Step 2: drop the old keys, then make sure nothing slipped in under them meanwhile.
            crypto.write_key_file(path, crypto.Keyring.of(new_key))
            crypto.reset_keyring_cache()
            if count_not_under(transition.active_id) == 0:
                self.stdout.write(
                    f"Root key rotated: {', '.join(sorted(old.keys))} -> {transition.active_id}; "
                    f"{total} data keys re-wrapped."
                )
                return
            crypto.write_key_file(path, transition)
            crypto.reset_keyring_cache()
        raise CommandError(
            "Data keys kept appearing under the old root key; the key file still holds both keys. "
            "Run the command again when writes are quieter."
        )
