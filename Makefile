# lakejobs: two commands on a fresh machine.
#   make demo   bootstrap, then run the exams pipeline end to end on a generated sample lake
#   make test   bootstrap, then run the whole test suite
# Both are safe to re-run: the bootstrap only redoes a step whose inputs changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := .jars
# lakejobs' own JVM classes (jvm/lakejobs-ext: the pseudonym HMAC, the BI server's authentication
# and read-only SQL), compiled against the jars pyspark ships, so nothing is downloaded for them.
EXT_JAR := .build/jars/lakejobs-ext.jar
EXT_SRC := $(wildcard jvm/lakejobs-ext/src/lakejobs/*.java)

.PHONY: bootstrap airflow-venv demo test test-all lint clean

bootstrap: $(VENV)/.installed $(JARS)/.fetched $(EXT_JAR) browser

# Headless Chromium renders `lakejobs report`'s HTML page in its test (Debian package; skipped
# when a chromium is already on PATH).
.PHONY: browser
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# JVM jars from Maven Central (see the poms in jvm/). Spark gets .jars/*.jar as local files: Delta,
# plus hadoop-aws and the AWS SDK modules for s3a://. Only the groups Spark does not already ship are
# copied, so nothing on Spark's classpath is shadowed (Delta's own hadoop-client 3.4 is left out:
# pyspark ships the matching 3.5). The backend tests' servers go into subfolders that Spark never
# reads: .jars/minicluster/ (Hadoop HDFS + YARN) and .jars/s3proxy/ (an S3-compatible server).
SPARK_JAR_GROUPS := io.delta,io.unitycatalog,org.apache.hadoop,software.amazon.awssdk,software.amazon.s3.analyticsaccelerator,software.amazon.eventstream,org.reactivestreams
MVN_COPY := mvn --batch-mode --quiet dependency:copy-dependencies -DincludeScope=runtime

$(JARS)/.fetched: jvm/pom.xml jvm/minicluster/pom.xml jvm/s3proxy/pom.xml
	@rm -rf $(JARS) && mkdir -p $(JARS)
	$(MVN_COPY) -f jvm/pom.xml -DoutputDirectory=$(CURDIR)/$(JARS) \
	    -DincludeGroupIds=$(SPARK_JAR_GROUPS) -DexcludeArtifactIds=hadoop-client-api,hadoop-client-runtime
	$(MVN_COPY) -f jvm/minicluster/pom.xml -DoutputDirectory=$(CURDIR)/$(JARS)/minicluster \
	    -DincludeArtifactIds=hadoop-client-minicluster,bcprov-jdk18on,bcpkix-jdk18on,bcutil-jdk18on,junit-jupiter-api,opentest4j,junit-platform-commons,apiguardian-api
	$(MVN_COPY) -f jvm/s3proxy/pom.xml -DoutputDirectory=$(CURDIR)/$(JARS)/s3proxy
	@touch $@

# Apache Airflow for tests/airflow (the nightly DAG run by real Airflow 3), in its own venv: Airflow
# pins its own dependencies, which must not move the project's. The stamp names the versions, so
# changing one here reinstalls.
AIRFLOW_VENV := .airflow-venv
AIRFLOW_PACKAGES := apache-airflow==3.3.2 apache-airflow-providers-standard==1.21.0 apache-airflow-providers-apache-spark==6.3.4
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-$(subst ==,-,$(subst $() ,_,$(AIRFLOW_PACKAGES)))

airflow-venv: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP):
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet $(AIRFLOW_PACKAGES)
	@rm -f $(AIRFLOW_VENV)/.installed-* && touch $@

PYSPARK_JARS = $$($(BIN)/python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars", "*"))')

$(EXT_JAR): $(EXT_SRC) $(VENV)/.installed
	@rm -rf .build/ext-classes && mkdir -p .build/ext-classes $(dir $@)
	javac --release 17 -d .build/ext-classes -cp "$(PYSPARK_JARS)" $(EXT_SRC)
	jar --create --file $@ -C .build/ext-classes .

demo: bootstrap
	$(BIN)/lakejobs demo

# The slowest tier, left out of `make test` until the per-run overhead is cut (the suite grew past
# CI's 90 minutes on 2 cores): the YARN and standalone cluster submissions and the benchmark
# smoke runs. `make test-all` runs everything. (The wheel test, tests/packaging, stays in `make
# test`: a clean venv with pyspark installed from pip's cache, about 4 minutes.)
SLOW_TIER = tests/backends/test_hdfs_yarn.py tests/backends/test_standalone.py tests/bench/test_bench_smoke.py

# The tests run after lint, so CI (`.ci/run` runs `make test`) fails on a lint or type error too.
test: bootstrap airflow-venv lint
	$(BIN)/python -m pytest $(addprefix --ignore=,$(SLOW_TIER))

test-all: bootstrap airflow-venv lint
	$(BIN)/python -m pytest

# Style (ruff) over the code, and the type checker over the library ([tool.mypy] in pyproject.toml).
LINT_DIRS := lib jobs tests bench

lint: bootstrap
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/mypy lib/lakejobs

clean:
	rm -rf lake .build
