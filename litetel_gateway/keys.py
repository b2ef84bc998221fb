"""Device keys: ``keys.toml`` loading, SIGHUP reload, request signature check (wire format §4).

    [devices]
    "sat-7" = "hex:00112233445566778899aabbccddeeff"
    "sat-8" = "base64:ABEiM0RVZneImaq7zN3u/w=="

Key rule: a ``hex:`` or ``base64:`` prefix says the encoding. Without a prefix, a value made only of hex
digits (even length) is hex, anything else is standard base64. Keys are never logged.

    keys = KeyStore("keys.toml")
    keys.verify("sat-7", "12.3", "0", "991", body, signature_hex)   # True / False
"""

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import stat

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

log = logging.getLogger("litetel_gateway.keys")

SIGNATURE_PREFIX = b"litetel-v1\n"
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_PAIR = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.:-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$')


class KeyFileError(Exception):
    """The key file is missing, unreadable, insecure or malformed."""


def decode_key(text):
    """Key bytes from ``hex:...``, ``base64:...`` or an unprefixed hex/base64 string.

    >>> decode_key("hex:0a0b")
    b'\\n\\x0b'
    """
    text = text.strip()
    try:
        if text.startswith("hex:"):
            key = bytes.fromhex(text[4:])
        elif text.startswith("base64:"):
            key = base64.b64decode(text[7:], validate=True)
        elif _HEX.match(text):
            key = bytes.fromhex(text)
        else:
            key = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise KeyFileError("a key is neither valid hex nor base64") from None
    if not key:
        raise KeyFileError("a key is empty")
    return key


def _parse_minimal_toml(text):
    """The subset keys.toml needs when neither tomllib nor tomli exists:
    ``[devices]`` and ``"id" = "key"`` lines."""
    tables, current = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = tables.setdefault(stripped[1:-1].strip(), {})
            continue
        match = _PAIR.match(stripped)
        if match is None or current is None:
            raise KeyFileError('line %d: cannot parse (only [table] and "id" = "key" lines)' % number)
        key = match.group(1)
        current[key[1:-1] if key.startswith('"') else key] = match.group(2)
    return tables


def load_keys(path, allow_insecure=False):
    """Read the key file into ``{device_id: key_bytes}``; refuses group/other-readable files."""
    try:
        mode = os.stat(path).st_mode
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise KeyFileError("cannot read key file %s: %s" % (path, exc.strerror)) from None
    if stat.S_IMODE(mode) & 0o077 and not allow_insecure:
        raise KeyFileError(
            "key file %s is accessible by group/others (mode %03o); run `chmod 600 %s` or pass "
            "--allow-insecure-keys" % (path, stat.S_IMODE(mode), path)
        )
    try:
        text = raw.decode("utf-8")
        tables = tomllib.loads(text) if tomllib is not None else _parse_minimal_toml(text)
    except (UnicodeDecodeError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise KeyFileError("key file %s is not valid TOML: %s" % (path, exc)) from None
    devices = tables.get("devices")
    if not isinstance(devices, dict):
        raise KeyFileError("key file %s has no [devices] table" % (path,))
    keys = {}
    for device_id, value in devices.items():
        if not isinstance(value, str):
            raise KeyFileError("key of device %r is not a string" % (device_id,))
        try:
            keys[str(device_id)] = decode_key(value)
        except KeyFileError as exc:
            raise KeyFileError("device %r: %s" % (device_id, exc)) from None
    return keys


def signing_input(device, nonce, time_ms, ticks, body):
    """The bytes the device signs (wire format §4); header values as sent (str)."""
    return b"".join(
        (
            SIGNATURE_PREFIX,
            device.encode(),
            b"\n",
            nonce.encode(),
            b"\n",
            time_ms.encode(),
            b"\n",
            ticks.encode(),
            b"\n",
            body,
        )
    )


def sign(key, device, nonce, time_ms, ticks, body):
    """Lowercase hex HMAC-SHA256 of a request (what the device sends as X-Litetel-Signature)."""
    return hmac.new(key, signing_input(device, nonce, time_ms, ticks, body), hashlib.sha256).hexdigest()


class KeyStore:
    """The current device keys; :meth:`reload` swaps them atomically (a bad file keeps the old keys)."""

    def __init__(self, path, allow_insecure=False):
        self.path = path
        self.allow_insecure = allow_insecure
        self._keys = load_keys(path, allow_insecure)

    def __len__(self):
        return len(self._keys)

    def __contains__(self, device_id):
        return device_id in self._keys

    def reload(self):
        """Re-read the file (SIGHUP). Returns True when the new keys are in use."""
        try:
            keys = load_keys(self.path, self.allow_insecure)
        except KeyFileError as exc:
            log.error("key reload failed, keeping the previous %d keys: %s", len(self._keys), exc)
            return False
        self._keys = keys
        log.info("reloaded %d device keys from %s", len(keys), self.path)
        return True

    def verify(self, device, nonce, time_ms, ticks, body, signature):
        """True when ``signature`` (hex) is the device's HMAC of the request; constant-time compare."""
        key = self._keys.get(device)
        if key is None:
            return False
        expected = sign(key, device, nonce, time_ms, ticks, body)
        return hmac.compare_digest(expected.encode(), signature.encode())
