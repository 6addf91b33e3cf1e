"""Keyed pseudonyms (HMAC-SHA256) for personal ids, computed by Spark's own functions.

The key comes from the environment only and is never stored or logged. HMAC is built from
`sha2` over binary concatenation (RFC 2104), so no Python UDF runs and no row leaves the JVM:
HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m)), with K' the key (hashed first
when longer than the 64-byte block) padded with zeros to 64 bytes. The two pads are derived from
the key on the driver and enter the query plan as literals: treat plans (Spark UI, event logs)
of a pseudonymising job as secret, or redact them with `spark.sql.redaction.string.regex`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakejobs.errors import UsageError

KEY_ENV = "LAKEJOBS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16
_BLOCK = 64  # SHA-256 block size in bytes


def load_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonym key (UTF-8 bytes of $LAKEJOBS_PSEUDONYM_KEY); a one-line error if unusable."""
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    if not value.strip():
        raise UsageError(
            f"{KEY_ENV} is not set: export a secret of at least {MIN_KEY_BYTES} bytes to "
            "pseudonymise user ids (it is read from the environment only, never stored)"
        )
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(
            f"{KEY_ENV} is too short ({len(key)} bytes): use a secret of at least "
            f"{MIN_KEY_BYTES} bytes, a short key lets anyone re-identify users by brute force"
        )
    return key


def _pads(key: bytes) -> tuple[str, str]:
    """(K' xor ipad, K' xor opad) as hex, per RFC 2104."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    block = key.ljust(_BLOCK, b"\x00")
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    return inner.hex(), outer.hex()


def hmac_sha256_hex(message: Column, key: bytes) -> Column:
    """Lower-case hex HMAC-SHA256 of `message` (a string, hashed as UTF-8; null stays null)."""
    if not key:
        raise UsageError("an HMAC key must not be empty")
    inner_pad, outer_pad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(inner_pad)), message.cast("binary")), 256))
    return F.sha2(F.concat(F.unhex(F.lit(outer_pad)), inner), 256)
