# lakejobs: two commands on a fresh machine.
#   make demo   bootstrap, then run the exams pipeline end to end on a generated sample lake
#   make test   bootstrap, then run the whole test suite
# Both are safe to re-run: the bootstrap only redoes a step whose inputs changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := .jars

.PHONY: bootstrap demo test lint bench-smoke clean

bootstrap: $(VENV)/.installed $(JARS)/.fetched

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Delta's JVM jars from Maven Central into .jars/ (Spark gets them as local files; see jvm/pom.xml).
# Only the groups Spark does not already ship are copied, so nothing on Spark's classpath is shadowed.
$(JARS)/.fetched: jvm/pom.xml
	@rm -rf $(JARS) && mkdir -p $(JARS)
	mvn --batch-mode --quiet -f jvm/pom.xml dependency:copy-dependencies \
	    -DoutputDirectory=$(CURDIR)/$(JARS) -DincludeScope=runtime \
	    -DincludeGroupIds=io.delta,io.unitycatalog
	@touch $@

demo: bootstrap
	$(BIN)/lakejobs demo

test: bootstrap
	$(BIN)/python -m pytest

lint: bootstrap
	$(BIN)/ruff check lib jobs tests
	$(BIN)/ruff format --check lib jobs tests

clean:
	rm -rf lake .build
