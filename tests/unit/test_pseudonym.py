"""HMAC-SHA256 pseudonyms built from Spark functions agree with Python's `hmac`, and the key
comes from the environment or the run stops with a one-line error."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from lakejobs.errors import UsageError
from lakejobs.pseudonym import KEY_ENV, hmac_sha256_hex, load_key

MESSAGES = ["u00000001", "", "Ünïcödé user 👤", "x" * 200, None]


@pytest.mark.parametrize(
    "key",
    [
        b"0123456789abcdef",
        b"k" * 64,
        b"a-key-longer-than-one-block-" * 4,
        "클레이키-ключ-🔑".encode(),
    ],
    ids=["16 bytes", "exactly one block", "longer than a block (hashed first)", "utf-8"],
)
def test_spark_hmac_matches_python_hmac(spark, key):
    df = spark.createDataFrame([(m,) for m in MESSAGES], "message string")
    actual = [r.h for r in df.select(hmac_sha256_hex(F.col("message"), key).alias("h")).collect()]
    expected = [
        None if m is None else hmac.new(key, m.encode(), hashlib.sha256).hexdigest()
        for m in MESSAGES
    ]
    assert actual == expected


def test_load_key_reads_the_environment_variable():
    assert load_key({KEY_ENV: "s3cret-s3cret-s3cret"}) == b"s3cret-s3cret-s3cret"


@pytest.mark.parametrize("environ", [{}, {KEY_ENV: ""}, {KEY_ENV: "   "}])
def test_a_missing_key_is_a_one_line_usage_error(environ):
    with pytest.raises(UsageError) as raised:
        load_key(environ)
    assert str(raised.value) == (
        "LAKEJOBS_PSEUDONYM_KEY is not set: export a secret of at least 16 bytes to pseudonymise "
        "user ids (it is read from the environment only, never stored)"
    )


def test_a_short_key_is_refused_without_echoing_it():
    with pytest.raises(UsageError) as raised:
        load_key({KEY_ENV: "hunter2"})
    assert str(raised.value) == (
        "LAKEJOBS_PSEUDONYM_KEY is too short (7 bytes): use a secret of at least 16 bytes, "
        "a short key lets anyone re-identify users by brute force"
    )
    assert "hunter2" not in str(raised.value)
