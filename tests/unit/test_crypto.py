from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from django.core.management import call_command
from django.test import override_settings

from console import crypto
from secrets_app import services
from secrets_app.models import SecretVersion
from tests.factories import create_secret, factory_actor


@pytest.fixture
def keyring() -> crypto.Keyring:
    return crypto.Keyring.of(crypto.generate_root_key())


def test_round_trip(keyring):
    sealed = crypto.seal(b"s3cr3t value", context="ctx-1", keyring=keyring)
    assert sealed.key_id == keyring.active_id
    assert b"s3cr3t" not in sealed.ciphertext and b"s3cr3t" not in sealed.wrapped_key
    assert crypto.open_sealed(sealed, context="ctx-1", keyring=keyring) == b"s3cr3t value"


def test_each_seal_uses_a_fresh_data_key_and_nonce(keyring):
    a = crypto.seal(b"same", context="c", keyring=keyring)
    b = crypto.seal(b"same", context="c", keyring=keyring)
    assert a.ciphertext != b.ciphertext
    assert a.wrapped_key != b.wrapped_key


def test_wrong_root_key_is_refused(keyring):
    sealed = crypto.seal(b"value", context="c", keyring=keyring)
    other = crypto.Keyring.of(crypto.generate_root_key())
    with pytest.raises(crypto.UnknownRootKeyError, match=sealed.key_id):
        crypto.open_sealed(sealed, context="c", keyring=other)


def test_a_different_key_under_the_same_id_fails_integrity(keyring):
    sealed = crypto.seal(b"value", context="c", keyring=keyring)
    impostor = crypto.Keyring(active_id=keyring.active_id, keys={keyring.active_id: os.urandom(32)})
    with pytest.raises(crypto.TamperedDataError):
        crypto.open_sealed(sealed, context="c", keyring=impostor)


@pytest.mark.parametrize("part", ["ciphertext", "wrapped_key"])
@pytest.mark.parametrize("position", [0, 12, -1])
def test_tampered_bytes_raise_and_never_return_garbage(keyring, part, position):
    sealed = crypto.seal(b"value that must not leak", context="c", keyring=keyring)
    blob = bytearray(getattr(sealed, part))
    blob[position] ^= 0x01
    tampered = crypto.Sealed(**{**sealed.__dict__, part: bytes(blob)})
    with pytest.raises(crypto.TamperedDataError) as exc:
        crypto.open_sealed(tampered, context="c", keyring=keyring)
    assert "value that must not leak" not in str(exc.value)


def test_truncated_ciphertext_is_tampering(keyring):
    sealed = crypto.seal(b"value", context="c", keyring=keyring)
    with pytest.raises(crypto.TamperedDataError):
        crypto.open_sealed(
            crypto.Sealed(sealed.key_id, sealed.wrapped_key, sealed.ciphertext[:5]),
            context="c",
            keyring=keyring,
        )


def test_ciphertext_moved_to_another_row_does_not_open(keyring):
    sealed = crypto.seal(b"value", context="secretversion:1", keyring=keyring)
    with pytest.raises(crypto.TamperedDataError, match="secretversion:2"):
        crypto.open_sealed(sealed, context="secretversion:2", keyring=keyring)


def test_rewrap_keeps_the_ciphertext_and_changes_the_key(keyring):
    sealed = crypto.seal(b"value", context="c", keyring=keyring)
    new = crypto.Keyring.of(crypto.generate_root_key(), keyring.active_key)
    moved = crypto.rewrap(sealed, keyring=new)
    assert moved.key_id == new.active_id and moved.ciphertext == sealed.ciphertext
    only_new = crypto.Keyring.of(new.active_key)
    assert crypto.open_sealed(moved, context="c", keyring=only_new) == b"value"


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_bad_root_key_values_fail_clearly(value, message):
    with pytest.raises(crypto.RootKeyConfigError, match=message):
        crypto.decode_root_key(value, source="SM_ROOT_KEY")


def test_key_file_is_created_with_mode_0600_and_reused(tmp_path):
    path = tmp_path / "root.key"
    first = crypto.load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.load_or_create_key_file(path) == first
    assert json.loads(path.read_text())["active"] == first.active_id


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "root.key"
    crypto.load_or_create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(crypto.RootKeyConfigError, match="chmod 600"):
        crypto.read_key_file(path)


def test_corrupt_key_file_is_refused(tmp_path):
    path = tmp_path / "root.key"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(crypto.RootKeyConfigError, match="expected format"):
        crypto.read_key_file(path)


@pytest.fixture
def file_keyring(tmp_path):
    """Settings as in the default install: no SM_ROOT_KEY, a key file in the data directory."""
    path = tmp_path / "root.key"
    with override_settings(SM_ROOT_KEY="", SM_ROOT_KEYS_OLD=[], SM_ROOT_KEY_FILE=path):
        crypto.reset_keyring_cache()
        yield path
    crypto.reset_keyring_cache()


def _payloads():
    actor = factory_actor()
    return {
        v.pk: services.secret_version_payload_read(actor=actor, version_id=v.pk)
        for v in SecretVersion.objects.filter(payload_available=True)
    }


@pytest.mark.django_db
def test_rotate_root_key_in_key_file_mode(file_keyring, capsys):
    for i in range(3):
        secret = create_secret(name=f"rot-{i}", payload=f"payload-{i}")
        services.arbitrary_secret_rotate(
            actor=factory_actor(), secret_id=secret.pk, payload=f"payload-{i}-b"
        )
    before = _payloads()
    old_id = crypto.current_keyring().active_id

    call_command("rotate_root_key", "--batch-size", "2")

    keyring = crypto.read_key_file(file_keyring)
    assert keyring.active_id != old_id
    assert list(keyring.keys) == [keyring.active_id], "the old key is dropped once nothing uses it"
    ids = set(
        SecretVersion.objects.exclude(sealed_key_id="").values_list("sealed_key_id", flat=True)
    )
    assert ids == {keyring.active_id}
    assert _payloads() == before
    out = capsys.readouterr().out
    assert "6 data keys re-wrapped" in out
    assert base64.b64encode(keyring.active_key).decode() not in out


@pytest.mark.django_db
def test_old_root_key_stays_readable_until_rotation_finishes(file_keyring, monkeypatch):
    secret = create_secret(name="mid-rotation", payload="still-readable")
    version_id = secret.versions.get().pk
    old_id = crypto.current_keyring().active_id
    from secrets_app.management.commands import rotate_root_key as command

    seen = {}

    def observe(*, keyring, batch_size):
        # Mid-rotation, as another process sees it: both keys in the file, the new one active,
        # and data still wrapped under the old key opens.
        on_disk = crypto.read_key_file(file_keyring)
        seen["keys"] = set(on_disk.keys)
        seen["active"] = on_disk.active_id
        seen["payload"] = services.secret_version_payload_read(
            actor=factory_actor(), version_id=version_id
        )
        return real_rewrap(keyring=keyring, batch_size=batch_size)

    real_rewrap = command.rewrap_all
    monkeypatch.setattr(command, "rewrap_all", observe)
    call_command("rotate_root_key")
    assert old_id in seen["keys"] and seen["active"] != old_id and len(seen["keys"]) == 2
    assert seen["payload"] == "still-readable"
    assert set(crypto.read_key_file(file_keyring).keys) == {seen["active"]}


@pytest.mark.django_db
def test_rotate_root_key_in_env_mode_with_old_keys_listed(capsys):
    old_key, new_key = crypto.generate_root_key(), crypto.generate_root_key()
    b64 = lambda k: base64.b64encode(k).decode()  # noqa: E731
    with override_settings(SM_ROOT_KEY=b64(old_key), SM_ROOT_KEYS_OLD=[]):
        crypto.reset_keyring_cache()
        create_secret(name="env-rot", payload="env-value")
    with override_settings(SM_ROOT_KEY=b64(new_key), SM_ROOT_KEYS_OLD=[b64(old_key)]):
        crypto.reset_keyring_cache()
        call_command("rotate_root_key")
    with override_settings(SM_ROOT_KEY=b64(new_key), SM_ROOT_KEYS_OLD=[]):
        crypto.reset_keyring_cache()
        assert set(_payloads().values()) == {"env-value"}
    crypto.reset_keyring_cache()
    assert "SM_ROOT_KEYS_OLD can now be removed" in capsys.readouterr().out
