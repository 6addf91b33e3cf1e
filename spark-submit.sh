#!/usr/bin/env bash
# Submit one lakejobs job file with spark-submit (local[*] by default, spark://, yarn, emr).
#   ./spark-submit.sh [--master URL] [--profile NAME] [--lake URI] [--conf K=V ...] [--dry-run] JOB_FILE [--date D ...]
# Example: ./spark-submit.sh --dry-run jobs/exams/grade.py --date 2026-11-20
# The command is built by lakejobs.submit (run `make bootstrap` once first).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${LAKEJOBS_PYTHON:-$here/.venv/bin/python}"
if [[ ! -x "$python" ]]; then
  echo "spark-submit.sh: error: $python not found; run 'make bootstrap' first" >&2
  exit 2
fi
# This checkout's jars (`make bootstrap` fills .jars/), unless LAKEJOBS_JARS names other ones.
export LAKEJOBS_JARS="${LAKEJOBS_JARS:-$here/.jars}"
exec "$python" -m lakejobs.submit "$@"
