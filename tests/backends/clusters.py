"""Start and stop the real distributed components the backend tests run against, on 127.0.0.1.

Each `start_*` returns a handle once the component answers; `stop_*` ends everything it started,
process group first, then (for YARN containers and Spark executors, which run in their own
sessions) any process whose command line names the component's private work directory. A
component that cannot start raises `ComponentUnavailable` with the reason, so fixtures can skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pyspark

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]  # the checkout: spark-submit.sh, jobs/, .jars/
PYSPARK_HOME = Path(pyspark.__file__).resolve().parent
PYSPARK_JARS = PYSPARK_HOME / "jars"
JARS_DIR = REPO_ROOT / ".jars"
MINICLUSTER_JARS = JARS_DIR / "minicluster"
S3PROXY_JARS = JARS_DIR / "s3proxy"
HOST = "127.0.0.1"
START_DEADLINE_S = 240.0  # a guard against hanging on a loaded machine, not a performance check
STOP_GRACE_S = 30.0


class ComponentUnavailable(RuntimeError):
    """A component cannot run on this machine (missing jars or tools); tests skip with this."""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def java_home() -> str:
    """JAVA_HOME, or the JDK that `java` on PATH belongs to (YARN containers need it set)."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        raise ComponentUnavailable("no `java` on PATH and JAVA_HOME is not set")
    return str(Path(java).resolve().parents[1])


def _require_jars(folder: Path, what: str) -> None:
    if not any(folder.glob("*.jar")):
        raise ComponentUnavailable(f"{what}: no jars in {folder}; run `make bootstrap`")


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return f"({path} not written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def spawn(
    command: Sequence[str], log: Path, *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start a process in its own session (so its whole group can be stopped) logging to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen, log: Path) -> float:
    """Poll `ready` until true; fail fast if `process` exits. Returns the seconds waited."""
    started = time.monotonic()
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() - started > START_DEADLINE_S:
            raise RuntimeError(f"{what} not ready after {START_DEADLINE_S:.0f}s:\n{tail(log)}")
        time.sleep(0.25)
    return time.monotonic() - started


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process group, wait for it, and SIGKILL the group if it does not go."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # leftovers of the group, if any
    process.wait()


def kill_strays(marker: str) -> list[int]:
    """SIGKILL processes whose command line or cwd is in `marker` (a private temp directory).

    YARN starts containers with setsid and Spark workers start executors that may outlive a
    killed worker, so they are not in the group we started; their command lines name our dirs.
    """
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in cmdline or cwd.startswith(marker):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
            except ProcessLookupError:
                pass
    return killed


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def answers_http(url: str) -> bool:
    """True once something answers HTTP at `url` (any status code)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- Hadoop mini cluster

# Spark's BaseYarnClusterSuite settings: the shaded minicluster jar has no capacity-scheduler.xml.
YARN_CONF = {
    "yarn.scheduler.capacity.root.queues": "default",
    "yarn.scheduler.capacity.root.default.capacity": "100",
    "yarn.scheduler.capacity.root.default.maximum-capacity": "100",
    "yarn.scheduler.capacity.root.default.user-limit-factor": "1",
    "yarn.scheduler.capacity.root.default.state": "RUNNING",
    "yarn.scheduler.capacity.root.default.acl_submit_applications": "*",
    "yarn.scheduler.capacity.root.default.acl_administer_queue": "*",
    "yarn.scheduler.capacity.node-locality-delay": "-1",
    "yarn.resourcemanager.hostname": HOST,
    "yarn.nodemanager.hostname": HOST,
    # Small machine: one NodeManager offering 5 GB and 4 vcores, small minimum containers.
    "yarn.nodemanager.resource.memory-mb": "5120",
    "yarn.nodemanager.resource.cpu-vcores": "4",
    "yarn.scheduler.minimum-allocation-mb": "256",
    "yarn.nodemanager.vmem-check-enabled": "false",
    "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "100.0",
    "dfs.replication": "1",
}
HADOOP_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.f.ref = F
appender.f.type = File
appender.f.name = F
appender.f.fileName = {log}
appender.f.layout.type = PatternLayout
appender.f.layout.pattern = %d{{HH:mm:ss.SSS}} %p %c{{1}}: %m%n
"""


@dataclass
class MiniHadoop:
    """HDFS + YARN in one JVM; `conf_dir` is a HADOOP_CONF_DIR/YARN_CONF_DIR for clients."""

    process: subprocess.Popen
    namenode: str  # hdfs://127.0.0.1:PORT
    conf_dir: Path
    workdir: Path
    startup_s: float

    def env(self) -> dict[str, str]:
        """Environment for `spark-submit --master yarn`."""
        return {"HADOOP_CONF_DIR": str(self.conf_dir), "YARN_CONF_DIR": str(self.conf_dir)}

    def applications(self) -> list[dict]:
        """The ResourceManager's applications (its REST API), to see what really ran on YARN."""
        conf = yarn_client_conf(self.conf_dir / "yarn-site.xml")
        webapp = conf["yarn.resourcemanager.webapp.address"]
        apps = http_json(f"http://{webapp}/ws/v1/cluster/apps").get("apps") or {}
        return list(apps.get("app", []))


def _pyspark_jar(prefix: str) -> Path:
    found = sorted(PYSPARK_JARS.glob(f"{prefix}-[0-9]*.jar"))
    if not found:
        raise ComponentUnavailable(f"pyspark ships no {prefix} jar in {PYSPARK_JARS}")
    return found[0]


def mini_hadoop_classpath() -> str:
    """The minicluster jars on top of pyspark's own Hadoop client and logging jars."""
    _require_jars(MINICLUSTER_JARS, "Hadoop mini cluster")
    names = (
        "hadoop-client-api",
        "hadoop-client-runtime",
        "slf4j-api",
        "log4j-slf4j2-impl",
        "log4j-api",
        "log4j-core",
        "log4j-1.2-api",
        "jcl-over-slf4j",
    )
    return ":".join([f"{MINICLUSTER_JARS}/*", *(str(_pyspark_jar(n)) for n in names)])


def yarn_client_conf(written: Path) -> dict[str, str]:
    """The ResourceManager addresses and allocation limits from the cluster's full config dump.

    The dump also holds the mini cluster's test-only settings (e.g. a static rack mapping class
    that is not on a client's classpath), so clients get only what they need.
    """
    properties = ElementTree.parse(written).getroot().iter("property")
    conf = {p.findtext("name", ""): p.findtext("value", "") for p in properties}
    wanted = re.compile(
        r"yarn\.resourcemanager\.(hostname|.*address)|yarn\.scheduler\..*-allocation-.*"
    )
    return {k: v for k, v in sorted(conf.items()) if wanted.fullmatch(k)}


def site_xml(conf: Mapping[str, str]) -> str:
    """A Hadoop *-site.xml holding `conf`."""
    root = ElementTree.Element("configuration")
    for key, value in conf.items():
        prop = ElementTree.SubElement(root, "property")
        ElementTree.SubElement(prop, "name").text = key
        ElementTree.SubElement(prop, "value").text = value
    return "<?xml version='1.0'?>\n" + ElementTree.tostring(root, encoding="unicode") + "\n"


def start_mini_hadoop(workdir: Path) -> MiniHadoop:
    """Start MiniHadoop.java (HDFS + YARN) and write its client config into `workdir/conf`."""
    classpath = mini_hadoop_classpath()
    workdir.mkdir(parents=True, exist_ok=True)
    log, written = workdir / "minihadoop.log", workdir / "minihadoop-site.xml"
    (workdir / "log4j2.properties").write_text(HADOOP_LOG4J.format(log=workdir / "hadoop.log"))
    nn_port = free_port()
    command = [
        str(Path(java_home()) / "bin" / "java"),
        "-Xmx1g",
        f"-Dlog4j2.configurationFile=file:{workdir / 'log4j2.properties'}",
        "-cp",
        classpath,
        str(HERE / "MiniHadoop.java"),
        str(workdir / "data"),
        str(written),
        str(nn_port),
        *(f"{k}={v}" for k, v in YARN_CONF.items()),
    ]
    started = time.monotonic()
    # cwd: MiniYARNCluster puts its NodeManager dirs (and so every container) under ./target.
    process = spawn(command, log, cwd=workdir, env={"JAVA_HOME": java_home()})
    try:
        wait_until(written.exists, "Hadoop mini cluster", process, log)
        conf_dir = workdir / "conf"
        conf_dir.mkdir(exist_ok=True)
        namenode = f"hdfs://{HOST}:{nn_port}"
        (conf_dir / "core-site.xml").write_text(site_xml({"fs.defaultFS": namenode}))
        (conf_dir / "yarn-site.xml").write_text(site_xml(yarn_client_conf(written)))
    except BaseException:
        stop_mini_hadoop_process(process, workdir)
        raise
    return MiniHadoop(process, namenode, conf_dir, workdir, time.monotonic() - started)


def stop_mini_hadoop_process(process: subprocess.Popen, workdir: Path) -> None:
    """SIGTERM runs the launcher's shutdown hook (YARN stops its containers, then HDFS)."""
    try:
        stop_process(process)
    finally:
        kill_strays(str(workdir))


def stop_mini_hadoop(cluster: MiniHadoop) -> None:
    stop_mini_hadoop_process(cluster.process, cluster.workdir)


# --------------------------------------------------------------------------------- S3 (s3proxy)

S3PROXY_LOGBACK = """\
<configuration>
  <appender name="F" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <encoder><pattern>%d{{HH:mm:ss.SSS}} %level %logger{{0}}: %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="F"/></root>
</configuration>
"""


@dataclass
class S3Server:
    """An S3-compatible server; buckets are folders under `workdir/buckets`."""

    process: subprocess.Popen
    endpoint: str  # http://127.0.0.1:PORT
    buckets: tuple[str, ...]
    workdir: Path
    startup_s: float

    def hadoop_conf(self, bucket: str) -> dict[str, str]:
        """Per-bucket S3A settings (no credentials: S3A reads them from the environment)."""
        prefix = f"fs.s3a.bucket.{bucket}"
        return {
            f"{prefix}.endpoint": self.endpoint,
            f"{prefix}.endpoint.region": "us-east-1",
            f"{prefix}.path.style.access": "true",
            f"{prefix}.connection.ssl.enabled": "false",
            # The AWS SDK's checksum headers are newer than what s3proxy verifies.
            f"{prefix}.checksum.calculation.enabled": "false",
        }


def start_s3proxy(workdir: Path, buckets: Sequence[str], env: Mapping[str, str]) -> S3Server:
    """Start s3proxy with a filesystem backend, credentials taken from AWS_* in `env`."""
    _require_jars(S3PROXY_JARS, "s3proxy")
    access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise ComponentUnavailable("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")
    workdir.mkdir(parents=True, exist_ok=True)
    for bucket in buckets:  # with the filesystem backend a bucket is a folder
        (workdir / "buckets" / bucket).mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://{HOST}:{port}"
    properties = workdir / "s3proxy.conf"
    properties.write_text(
        "\n".join(
            [
                f"s3proxy.endpoint={endpoint}",
                "s3proxy.authorization=aws-v2-or-v4",
                f"s3proxy.identity={access}",
                f"s3proxy.credential={secret}",
                "jclouds.provider=filesystem-nio2",
                f"jclouds.filesystem.basedir={workdir / 'buckets'}",
                f"jclouds.identity={access}",
                f"jclouds.credential={secret}",
            ]
        )
        + "\n"
    )
    os.chmod(properties, 0o600)
    (workdir / "logback.xml").write_text(S3PROXY_LOGBACK.format(log=workdir / "s3proxy-app.log"))
    log = workdir / "s3proxy.log"
    command = [
        str(Path(java_home()) / "bin" / "java"),
        "-Xmx512m",
        f"-Dlogback.configurationFile={workdir / 'logback.xml'}",
        "-cp",
        f"{S3PROXY_JARS}/*",
        "org.gaul.s3proxy.Main",
        "--properties",
        str(properties),
    ]
    started = time.monotonic()
    process = spawn(command, log, cwd=workdir)
    try:
        wait_until(lambda: answers_http(endpoint + "/"), "s3proxy", process, log)
    except BaseException:
        stop_process(process)
        raise
    return S3Server(process, endpoint, tuple(buckets), workdir, time.monotonic() - started)


def stop_s3proxy(server: S3Server) -> None:
    stop_process(server.process)


# ----------------------------------------------------------------------- Spark standalone cluster


@dataclass
class Standalone:
    """A Spark standalone master and its workers (each a separate JVM and process group)."""

    master: subprocess.Popen
    url: str  # spark://127.0.0.1:PORT
    webui: str  # http://127.0.0.1:PORT
    workers: list[subprocess.Popen]
    workdir: Path
    startup_s: float
    env: dict[str, str] = field(default_factory=dict)

    def state(self) -> dict:
        """The master's JSON status page: workers, their used cores, active applications."""
        return http_json(self.webui + "/json/")

    def alive_workers(self) -> list[dict]:
        return [w for w in self.state()["workers"] if w["state"] == "ALIVE"]


def spark_class() -> Path:
    path = PYSPARK_HOME / "bin" / "spark-class"
    if not path.exists():
        raise ComponentUnavailable(f"{path} not found (pyspark without bin/spark-class)")
    return path


def start_standalone(workdir: Path, workers: int = 2) -> Standalone:
    """Start a master and `workers` workers (1 core, 1g each) via spark-class."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "SPARK_LOCAL_IP": HOST,
        "SPARK_HOME": str(PYSPARK_HOME),
        "SPARK_DAEMON_MEMORY": "512m",
        "SPARK_LOG_DIR": str(workdir),
        "JAVA_HOME": java_home(),
    }
    port, webui_port = free_port(), free_port()
    url, webui = f"spark://{HOST}:{port}", f"http://{HOST}:{webui_port}"
    started = time.monotonic()
    master_log = workdir / "master.log"
    master = spawn(
        [
            str(spark_class()),
            "org.apache.spark.deploy.master.Master",
            "--host",
            HOST,
            "--port",
            str(port),
            "--webui-port",
            str(webui_port),
        ],
        master_log,
        cwd=workdir,
        env=env,
    )
    cluster = Standalone(master, url, webui, [], workdir, 0.0, env)
    try:
        wait_until(lambda: answers_http(webui + "/json/"), "Spark master", master, master_log)
        for index in range(workers):
            cluster.workers.append(start_worker(cluster, index))
        wait_until(
            lambda: len(cluster.alive_workers()) == workers, "Spark workers", master, master_log
        )
    except BaseException:
        stop_standalone(cluster)
        raise
    cluster.startup_s = time.monotonic() - started
    return cluster


def start_worker(cluster: Standalone, index: int) -> subprocess.Popen:
    """One worker with 1 core and 1g for executors; its work dir is private to this cluster."""
    work = cluster.workdir / f"worker-{index}"
    work.mkdir(exist_ok=True)
    return spawn(
        [
            str(spark_class()),
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            HOST,
            "--port",
            str(free_port()),
            "--webui-port",
            str(free_port()),
            "--cores",
            "1",
            "--memory",
            "1g",
            "--work-dir",
            str(work),
            cluster.url,
        ],
        cluster.workdir / f"worker-{index}.log",
        cwd=work,
        env=cluster.env,
    )


def stop_standalone(cluster: Standalone) -> None:
    """Workers first (their executors are in their process groups), then the master."""
    try:
        for worker in cluster.workers:
            stop_process(worker)
        stop_process(cluster.master)
    finally:
        kill_strays(str(cluster.workdir))
