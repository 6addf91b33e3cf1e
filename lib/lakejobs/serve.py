"""`lakejobs serve`: the Spark Thrift Server over the curated tables, for BI tools (JDBC/ODBC).

How it starts: a PySpark driver builds the library's session (Delta, the profile's conf), registers
every Delta table found under `<lake>/curated/<db>/<table>` by name (`lakejobs.catalog`), then
starts `HiveThriftServer2` inside that same JVM with `startWithSparkSession`. Every JDBC session is a
child of that SparkSession, so it sees the same tables and the same Delta configuration.

Why a private metastore: embedded Derby admits one JVM at a time, and the nightly jobs hold
`<lake>/_metastore` while they run. With the default `derby` metastore the server therefore uses
an in-memory Derby of its own and re-registers the lake at start (and every `--rescan` seconds);
the Delta logs in the lake stay the single source of truth. Profiles with a shared metastore
(`hive` via hive-site.xml, e.g. PostgreSQL; `glue`) keep it, and registration is then a no-op.

Why it is safe to point a BI tool at it: HiveServer2 checks a user name and password
(`hive.server2.authentication=CUSTOM` with `lakejobs.EnvPasswordAuthenticator`, which reads
$LAKEJOBS_BI_USER and $LAKEJOBS_BI_PASSWORD in the server's JVM), and every client statement
goes through `lakejobs.ReadOnlyExtension`: queries over the registered tables and metadata
statements only, no DML/DDL, no reads of files by path. The server's own session (which
registers the tables) is the one exempt session; clients get sessions of their own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lakejobs.catalog import Catalog
from lakejobs.config import Settings
from lakejobs.errors import ConfigError, LakejobsError, UsageError
from lakejobs.lake import LakeLayout
from lakejobs.session import BASE_CONF, build_session, driver_jvm, local_jars

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000
THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
READY_TIMEOUT_SECONDS = 120.0
USER_ENV = "LAKEJOBS_BI_USER"
PASSWORD_ENV = "LAKEJOBS_BI_PASSWORD"
AUTHENTICATOR = "lakejobs.EnvPasswordAuthenticator"
READ_ONLY_EXTENSION = "lakejobs.ReadOnlyExtension"
INSECURE_FLAG = "--insecure-no-auth"


@dataclass(frozen=True)
class ServeOptions:
    """Where the server listens, how often it looks for new tables (0: only at start), and
    whether clients must log in (off only with the loudly named --insecure-no-auth)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    rescan_seconds: float = 0.0
    authenticate: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise UsageError(f"--port must be between 1 and 65535, got {self.port}")
        if self.rescan_seconds < 0:
            raise UsageError(
                f"--rescan must be 0 (off) or a number of seconds, got {self.rescan_seconds}"
            )

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.host}:{self.port}/default"

    @property
    def sqlalchemy_uri(self) -> str:
        if self.authenticate:
            return f"hive://<user>:<password>@{self.host}:{self.port}/default?auth=CUSTOM"
        return f"hive://{self.host}:{self.port}/default"


def check_credentials(options: ServeOptions, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to start an authenticated server without the credentials it checks against."""
    environ = os.environ if environ is None else environ
    missing = [name for name in (USER_ENV, PASSWORD_ENV) if not environ.get(name, "").strip()]
    if options.authenticate and missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set: export the user name and password BI clients "
            f"must give (they are read from the environment only), or pass {INSECURE_FLAG} to "
            "let anyone on the network query every table"
        )


def server_settings(settings: Settings, options: ServeOptions) -> Settings:
    """Pure: the settings the server's JVM runs with.

    The embedded Derby metastore of the nightly jobs is swapped for a private in-memory one (see
    the module docstring); the HiveServer2 listener keys go through `spark.hadoop.*`, which is
    where `HiveThriftServer2` reads its HiveConf from. The security keys come after the
    profile's conf, so a profile cannot turn them off. The jars go on the driver's class path
    too: HiveServer2 opens client sessions (Delta's catalog) and loads the authenticator through
    the JVM's own class loader, which does not see `spark.jars`.
    """
    private = ("derby", "in-memory")  # the Thrift Server needs a Hive catalog of its own
    metastore = "derby-memory" if settings.metastore in private else settings.metastore
    profile = settings.spark_conf
    extensions = profile.get("spark.sql.extensions", BASE_CONF["spark.sql.extensions"])
    class_path = [str(jar) for jar in local_jars(settings)]
    if profile.get("spark.driver.extraClassPath"):
        class_path.append(profile["spark.driver.extraClassPath"])
    conf = {
        "spark.hadoop.hive.server2.transport.mode": "binary",
        "spark.hadoop.hive.server2.enable.doAs": "false",
        **profile,
        "spark.hadoop.hive.server2.thrift.bind.host": options.host,
        "spark.hadoop.hive.server2.thrift.port": str(options.port),
        "spark.hadoop.hive.server2.authentication": "CUSTOM" if options.authenticate else "NONE",
        "spark.hadoop.hive.server2.custom.authentication.class": AUTHENTICATOR,
        "spark.sql.extensions": f"{extensions},{READ_ONLY_EXTENSION}",
        "spark.sql.runSQLOnFiles": "false",
        # One session per client: the server's own session is the only one allowed to write.
        "spark.sql.hive.thriftServer.singleSession": "false",
        "spark.driver.extraClassPath": os.pathsep.join(class_path),
    }
    return dataclasses.replace(settings, metastore=metastore, spark_conf=conf)


def check_port_free(host: str, port: int) -> None:
    """Fail with one line before starting a JVM when the port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the JVM's server socket does: a port with connections in TIME_WAIT is usable.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"
            ) from None


def wait_until_listening(host: str, port: int, timeout: float) -> None:
    """HiveServer2 opens its socket on a thread of its own: wait for it before saying ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.5)
    raise LakejobsError(f"the Thrift Server did not open {host}:{port} within {timeout:.0f} s")


def serve(
    settings: Settings,
    options: ServeOptions,
    echo: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Run the Thrift Server until SIGTERM/SIGINT (or `stop` is set), then shut it down."""
    check_credentials(options)
    check_port_free(options.host, options.port)
    stop = stop or threading.Event()
    spark = build_session(server_settings(settings, options), app_name="lakejobs-thriftserver")
    server = None
    try:
        jvm = driver_jvm(spark)
        # HiveServer2 loads the CUSTOM authenticator from a `new HiveConf()`, which reads JVM
        # system properties, not the session's Hadoop conf.
        jvm.java.lang.System.setProperty("hive.server2.custom.authentication.class", AUTHENTICATOR)
        jvm.lakejobs.ReadOnlyExtension.allowWrites(spark._jsparkSession)
        catalog = Catalog(spark, LakeLayout(settings.lake))
        tables = catalog.register_all()
        server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithSparkSession(
            spark._jsparkSession, False
        )
        wait_until_listening(options.host, options.port, READY_TIMEOUT_SECONDS)
        access = (
            f"read-only, user and password from ${USER_ENV}/${PASSWORD_ENV}"
            if options.authenticate
            else f"read-only, NO AUTHENTICATION ({INSECURE_FLAG})"
        )
        echo(
            f"lakejobs: Thrift Server ready on {options.jdbc_url} "
            f"(SQLAlchemy: {options.sqlalchemy_uri}; {access}) with {len(tables)} tables: "
            f"{', '.join(tables) or 'none'}"
        )
        _install_signal_handlers(stop)
        next_scan = time.monotonic() + options.rescan_seconds
        # Short waits keep the main thread responsive to signals.
        while not stop.wait(1.0):
            if options.rescan_seconds and time.monotonic() >= next_scan:
                next_scan = time.monotonic() + options.rescan_seconds
                added = sorted(set(catalog.register_all()) - set(tables))
                if added:
                    tables = sorted({*tables, *added})
                    echo(f"lakejobs: registered new tables: {', '.join(added)}")
        echo("lakejobs: stopping the Thrift Server")
    finally:
        if server is not None:
            _quietly(server.stop)
        _quietly(spark.stop)


def _quietly(stop_call: Callable[[], object]) -> None:
    """Shutdown steps must not mask each other: a SIGTERM sent to the whole process group (a
    service manager, `timeout`) may already have ended the JVM, so py4j calls then fail."""
    with contextlib.suppress(Exception):  # the JVM is gone: nothing left to stop
        stop_call()


def _install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM (service managers, tests) and SIGINT (Ctrl-C) end the loop cleanly."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
