"""HMAC-SHA256 pseudonyms computed in the JVM agree with Python's `hmac`; the key comes from the
environment or the run stops with a one-line error; and the key is nowhere in a plan, an event
log (the History Server's and the UI's source) or the driver's log of a real events ingest."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import os
import re
import secrets
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import jobs.events.generate as events
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


def secret_forms(key: bytes) -> list[str]:
    """The key and what the previous implementation put into plans: the RFC 2104 pads as hex
    (K xor 0x36, K xor 0x5c, the key zero-padded to 64 bytes), in either case."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\x00")
    pads = [bytes(b ^ pad for b in block).hex() for pad in (0x36, 0x5C)]
    forms = [key.decode(), key.hex(), *pads, block.hex()]
    return forms + [form.upper() for form in forms[1:]]


def test_the_key_is_not_in_the_query_plan(spark):
    key = b"plan-test-key-" + secrets.token_hex(8).encode()
    df = spark.createDataFrame([("u1",)], "user_id string")
    pseudonymised = df.select(hmac_sha256_hex(F.col("user_id"), key).alias("user_key"))
    plans = pseudonymised._jdf.queryExecution().toString()  # parsed, analysed, optimised, physical
    assert "lakejobs_pseudonym(user_id" in plans
    for form in secret_forms(key):
        assert form not in plans
    assert pseudonymised.first().user_key == hmac.new(key, b"u1", hashlib.sha256).hexdigest()


def test_an_empty_key_is_refused():
    with pytest.raises(UsageError, match="must not be empty"):
        hmac_sha256_hex(F.col("user_id"), b"")


def event_log_text(spark, log_dir: Path) -> str:
    """Every event log file under `log_dir`, decompressed by Spark's own reader (zstd here)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    reader = jvm.org.apache.spark.deploy.history.EventLogFileReader
    texts = []
    for file in sorted(p for p in log_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
        path = jvm.org.apache.hadoop.fs.Path(file.as_uri())
        stream = reader.openEventLog(path, path.getFileSystem(conf))
        try:
            texts.append(bytes(stream.readAllBytes()).decode("utf-8"))
        finally:
            stream.close()
    return "\n".join(texts)


def test_the_key_is_in_no_event_log_or_driver_log_of_an_events_ingest(spark, tmp_path):
    key = "event-log-test-key-" + secrets.token_hex(12)
    day = date(2026, 11, 20)
    lake, log_dir = tmp_path / "lake", tmp_path / "eventlog"
    log_dir.mkdir()
    events.generate(lake, day, rows=400)
    config = tmp_path / "lakejobs.toml"
    config.write_text(
        "[profiles.eventlog]\n"
        'master = "local[2]"\n'
        'metastore = "derby-memory"\n'
        "[profiles.eventlog.spark]\n"
        '"spark.eventLog.enabled" = "true"\n'
        f'"spark.eventLog.dir" = "{log_dir.as_uri()}"\n'
        '"spark.eventLog.compress" = "true"\n'
        '"spark.eventLog.compression.codec" = "zstd"\n'
        '"spark.sql.shuffle.partitions" = "2"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_GATEWAY_PORT"}
    env.update({KEY_ENV: key, "LAKEJOBS_CONFIG": str(config), "LAKEJOBS_PROFILE": "eventlog"})
    command = [sys.executable, "-m", "lakejobs.cli", "run", "events.ingest_events"]
    command += ["--lake", str(lake), "--date", day.isoformat()]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=600
    )
    driver_log = done.stdout + done.stderr
    assert done.returncode == 0, driver_log[-3000:]
    logged = event_log_text(spark, log_dir)
    assert "SparkListenerSQLExecutionStart" in logged  # the plans are there ...
    assert "lakejobs_pseudonym(" in logged  # ... including the pseudonymising one
    for form in secret_forms(key.encode()):
        assert form not in logged
        assert form not in driver_log
    # And the ingest pseudonymised with that key (read from the Delta table it wrote).
    raw_users = set()
    for file in (lake / "raw" / "events").rglob("*"):
        if file.is_file():
            text = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
            raw_users |= set(re.findall(r'"(?:uid|user_id)": "([^"]+)"', text.decode()))
    expected = {hmac.new(key.encode(), u.encode(), hashlib.sha256).hexdigest() for u in raw_users}
    written = spark.read.format("delta").load(f"{lake.as_uri()}/curated/events/events")
    keys = {r.user_key for r in written.select("user_key").distinct().collect()}
    assert len(keys) > 10
    assert keys <= expected
