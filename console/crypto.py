"""Envelope encryption for secret material.

Every sealed value gets a fresh 256-bit data key. The value is encrypted with AES-256-GCM under
that data key, and the data key is wrapped (AES-256-GCM again) under the root key. The root key's
id is stored beside every wrapped key, so `rotate_root_key` can re-wrap data keys one row at a
time while both the old and the new root key stay readable.

Where the root key comes from:
- `SM_ROOT_KEY` (base64 of 32 bytes) is the active key; `SM_ROOT_KEYS_OLD` lists keys that are
  still readable while a rotation runs; or
- a key file in the data directory, created with mode 0600 on first use, holding the active
  key and any key still being rotated away from.

Each ciphertext is bound to its place (the caller's `context`, e.g. the version's id) through the
GCM associated data, so a ciphertext copied onto another row fails to open instead of decrypting
into the wrong secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

KEY_BYTES = 32
NONCE_BYTES = 12
_FILE_FORMAT = 1


class CryptoError(Exception):
    """Base class. Messages name ids and key ids, never key material or plaintext."""


class TamperedDataError(CryptoError):
    pass


class UnknownRootKeyError(CryptoError):
    pass


class RootKeyConfigError(CryptoError):
    pass


def key_id_for(key: bytes) -> str:
    """A stable, non-secret fingerprint of a root key."""
    return "rk-" + hashlib.sha256(b"sm-root-key-id:" + key).hexdigest()[:16]


def decode_root_key(value: str, *, source: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise RootKeyConfigError(f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise RootKeyConfigError(f"{source} must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def generate_root_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


@dataclass(frozen=True)
class Keyring:
    active_id: str
    keys: dict[str, bytes]

    @classmethod
    def of(cls, active: bytes, *retired: bytes) -> Keyring:
        keys = {key_id_for(k): k for k in retired}
        keys[key_id_for(active)] = active
        return cls(active_id=key_id_for(active), keys=keys)

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownRootKeyError(
                f"root key {key_id} is not available; it may have been rotated away while data "
                "still referenced it"
            ) from None


@dataclass(frozen=True)
class Sealed:
    """What gets stored: the root key id, the wrapped data key and the ciphertext."""

    key_id: str
    wrapped_key: bytes
    ciphertext: bytes


# ---------------------------------------------------------------------------------------------
# Key file


def read_key_file(path: Path) -> Keyring:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RootKeyConfigError(
            f"root key file {path} is accessible by other users (mode {mode:o}); run chmod 600 on it"
        )
    try:
        data = json.loads(path.read_text())
        active_id = data["active"]
        keys = {
            kid: decode_root_key(b64, source=f"key {kid} in {path}")
            for kid, b64 in data["keys"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise RootKeyConfigError(f"root key file {path} is not in the expected format") from None
    for kid, key in keys.items():
        if key_id_for(key) != kid:
            raise RootKeyConfigError(f"root key file {path}: key {kid} does not match its id")
    if active_id not in keys:
        raise RootKeyConfigError(f"root key file {path}: the active key {active_id} is missing")
    return Keyring(active_id=active_id, keys=keys)


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Write atomically with mode 0600: a temp file in the same directory, then rename."""
    payload = json.dumps(
        {
            "format": _FILE_FORMAT,
            "active": keyring.active_id,
            "keys": {kid: base64.b64encode(k).decode() for kid, k in keyring.keys.items()},
        },
        indent=2,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_or_create_key_file(path: Path) -> Keyring:
    if path.exists():
        return read_key_file(path)
    keyring = Keyring.of(generate_root_key())
    try:
        # O_EXCL on a fixed name: if two processes race on first use, exactly one key wins.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            json.dumps(
                {
                    "format": _FILE_FORMAT,
                    "active": keyring.active_id,
                    "keys": {keyring.active_id: base64.b64encode(keyring.active_key).decode()},
                },
                indent=2,
            )
        )
    return keyring


# ---------------------------------------------------------------------------------------------
# The process-wide keyring


class _KeyringCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._source: tuple[object, ...] | None = None

    def _source_fingerprint(self) -> tuple[object, ...]:
        if settings.SM_ROOT_KEY:
            return ("env", settings.SM_ROOT_KEY, tuple(settings.SM_ROOT_KEYS_OLD))
        path = Path(settings.SM_ROOT_KEY_FILE)
        try:
            st = path.stat()
        except FileNotFoundError:
            return ("file", str(path), None)
        return ("file", str(path), st.st_mtime_ns, st.st_ino)

    def get(self) -> Keyring:
        fingerprint = self._source_fingerprint()
        with self._lock:
            if self._keyring is None or fingerprint != self._source:
                self._keyring = self._load()
                self._source = self._source_fingerprint()
            return self._keyring

    def _load(self) -> Keyring:
        if settings.SM_ROOT_KEY:
            active = decode_root_key(settings.SM_ROOT_KEY, source="SM_ROOT_KEY")
            old = [
                decode_root_key(v, source=f"SM_ROOT_KEYS_OLD item {i + 1}")
                for i, v in enumerate(settings.SM_ROOT_KEYS_OLD)
            ]
            return Keyring.of(active, *old)
        return load_or_create_key_file(Path(settings.SM_ROOT_KEY_FILE))

    def clear(self) -> None:
        with self._lock:
            self._keyring = None
            self._source = None


_cache = _KeyringCache()


def current_keyring() -> Keyring:
    """The keyring in force. A changed key file (e.g. mid-rotation) is picked up on the next call."""
    return _cache.get()


def reset_keyring_cache() -> None:
    _cache.clear()


# ---------------------------------------------------------------------------------------------
# Seal and open


def _wrap_aad(key_id: str) -> bytes:
    return b"sm-data-key:" + key_id.encode()


def _data_aad(context: str) -> bytes:
    return b"sm-payload:" + context.encode()


def wrap_data_key(data_key: bytes, keyring: Keyring) -> tuple[str, bytes]:
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(keyring.active_key).encrypt(nonce, data_key, _wrap_aad(keyring.active_id))
    return keyring.active_id, nonce + wrapped


def unwrap_data_key(key_id: str, wrapped_key: bytes, keyring: Keyring) -> bytes:
    root = keyring.key(key_id)
    if len(wrapped_key) <= NONCE_BYTES:
        raise TamperedDataError("wrapped data key is truncated")
    try:
        data_key = AESGCM(root).decrypt(
            wrapped_key[:NONCE_BYTES], wrapped_key[NONCE_BYTES:], _wrap_aad(key_id)
        )
    except InvalidTag:
        raise TamperedDataError(
            f"wrapped data key failed its integrity check under root key {key_id}"
        ) from None
    if len(data_key) != KEY_BYTES:
        raise TamperedDataError("wrapped data key has the wrong length")
    return data_key


def seal(plaintext: bytes, *, context: str, keyring: Keyring | None = None) -> Sealed:
    keyring = keyring or current_keyring()
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, _data_aad(context))
    key_id, wrapped = wrap_data_key(data_key, keyring)
    return Sealed(key_id=key_id, wrapped_key=wrapped, ciphertext=ciphertext)


def open_sealed(sealed: Sealed, *, context: str, keyring: Keyring | None = None) -> bytes:
    # current_keyring() re-reads a key file that changed since the last call, so a value
    # re-wrapped by a rotation running in another process opens here too.
    keyring = keyring or current_keyring()
    data_key = unwrap_data_key(sealed.key_id, bytes(sealed.wrapped_key), keyring)
    blob = bytes(sealed.ciphertext)
    if len(blob) <= NONCE_BYTES:
        raise TamperedDataError(f"ciphertext for {context} is truncated")
    try:
        return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _data_aad(context))
    except InvalidTag:
        raise TamperedDataError(f"ciphertext for {context} failed its integrity check") from None


def rewrap(sealed: Sealed, *, keyring: Keyring) -> Sealed:
    """The same ciphertext with its data key wrapped under the keyring's active root key."""
    data_key = unwrap_data_key(sealed.key_id, bytes(sealed.wrapped_key), keyring)
    key_id, wrapped = wrap_data_key(data_key, keyring)
    return Sealed(key_id=key_id, wrapped_key=wrapped, ciphertext=bytes(sealed.ciphertext))


# ---------------------------------------------------------------------------------------------
# Derived keys


def derive_key(purpose: str, *, keyring: Keyring | None = None) -> tuple[str, bytes]:
    """A 256-bit key for one `purpose` (e.g. keyed hashes of payload fields), derived from the
    active root key with HMAC-SHA256, and the id of that root key. The same purpose and root key
    always give the same key; another root key gives another one, so values derived under
    different root keys cannot be compared."""
    keyring = keyring or current_keyring()
    derived = hmac.new(
        keyring.active_key, b"sm-derived-key:" + purpose.encode(), hashlib.sha256
    ).digest()
    return keyring.active_id, derived
