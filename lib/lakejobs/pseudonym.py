"""Keyed pseudonyms (HMAC-SHA256) for personal ids, computed in the JVM without the key in the plan.

The key comes from the environment only and is never stored or logged. The HMAC runs in a small
JVM function (`lakejobs.HmacSha256Hex`, jvm/lakejobs-ext, `javax.crypto.Mac`) that holds the key
as a private field: the key travels inside serialized tasks only, and plans, the Spark UI and
event logs show `lakejobs_pseudonym(user_id)`. (Built from Spark's `sha2` over the RFC 2104 pads,
as before, the pads were literals of every plan, and XOR 0x36 of the inner pad gives the key.)
No Python UDF runs and no row leaves the JVM.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from py4j.java_gateway import JavaClass
from pyspark.sql import Column, SparkSession

from lakejobs.errors import ConfigError, UsageError
from lakejobs.session import driver_jvm

KEY_ENV = "LAKEJOBS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16
JVM_FUNCTION = "lakejobs.HmacSha256Hex"


def load_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The pseudonym key (UTF-8 bytes of $LAKEJOBS_PSEUDONYM_KEY); a one-line error if unusable."""
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    if not value.strip():
        raise ConfigError(
            f"{KEY_ENV} is not set: export a secret of at least {MIN_KEY_BYTES} bytes to "
            "pseudonymise user ids (it is read from the environment only, never stored)"
        )
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{KEY_ENV} is too short ({len(key)} bytes): use a secret of at least "
            f"{MIN_KEY_BYTES} bytes, a short key lets anyone re-identify users by brute force"
        )
    return key


def hmac_sha256_hex(message: Column, key: bytes) -> Column:
    """Lower-case hex HMAC-SHA256 of `message` (a string, hashed as UTF-8; null stays null)."""
    if not key:
        raise UsageError("an HMAC key must not be empty")
    spark = SparkSession.getActiveSession()
    if spark is None:
        raise UsageError("pseudonyms need an active SparkSession")
    function = driver_jvm(spark).lakejobs.HmacSha256Hex
    if not isinstance(function, JavaClass):  # py4j found no such class: a package name
        raise UsageError(
            f"the JVM function {JVM_FUNCTION} is missing: run `make bootstrap` "
            "(it builds .build/jars/lakejobs-ext.jar)"
        )
    return Column(function.column(message._jc, key))
