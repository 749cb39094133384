#!/usr/bin/env bash
# Runs the benchmarks whose figures are in bench/README.md. Needs a release build
# (`swift build -c release --product tend-bench`) and, for PostgreSQL, TEND_BENCH_POSTGRES_URL
# pointing at a throw-away database (its schema tend_bench is dropped). Output: bench/results/.
#   ROWS=1000000 RUNS=1 bench/run.sh     # the full-size figures
#   ROWS=100000 RUNS=3 bench/run.sh      # medians of three at a tenth of the size
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=.build/release/tend-bench
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-1}
mkdir -p bench/results
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
measure() { local name=$1; shift; echo "== $name: $*"; "$@" | tee "bench/results/$name-$ROWS.txt"; }
measure import-sqlite $BENCH import-patients --database "sqlite:$DIR/import.sqlite" --rows "$ROWS" --runs "$RUNS"
rm -f "$DIR"/import.sqlite*
measure enrol-sqlite $BENCH enrol --database "sqlite:$DIR/enrol.sqlite" --rows "$ROWS" --runs "$RUNS"
rm -f "$DIR"/enrol.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  measure import-postgres $BENCH import-patients --database "$TEND_BENCH_POSTGRES_URL" --rows "$ROWS" --runs "$RUNS"
  measure enrol-postgres $BENCH enrol --database "$TEND_BENCH_POSTGRES_URL" --rows "$ROWS" --runs "$RUNS"
fi
measure dispatch-inapp-sqlite $BENCH dispatch --database "sqlite:$DIR/dispatch.sqlite" --touchpoints 100000 --runs 3
rm -f "$DIR"/dispatch.sqlite*
measure dispatch-webhook-sqlite $BENCH dispatch --database "sqlite:$DIR/dispatch.sqlite" --touchpoints 20000 --channel webhook --runs 3
rm -f "$DIR"/dispatch.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  measure dispatch-inapp-postgres $BENCH dispatch --database "$TEND_BENCH_POSTGRES_URL" --touchpoints 100000 --runs 3
  measure dispatch-webhook-postgres $BENCH dispatch --database "$TEND_BENCH_POSTGRES_URL" --touchpoints 20000 --channel webhook --runs 3
fi
measure triage $BENCH triage --messages 200000 --runs 5
# Issue 14: observation ingest with alert evaluation (200,000 readings whatever ROWS is).
measure observations-sqlite $BENCH observations --database "sqlite:$DIR/observations.sqlite" --readings 200000 --patients 5000 --runs 3
rm -f "$DIR"/observations.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  measure observations-postgres $BENCH observations --database "$TEND_BENCH_POSTGRES_URL" --readings 200000 --patients 5000 --runs 3
fi
# Issue 18: PDC of every patient from ROWS/10 patients × 12 fills.
measure adherence-sqlite $BENCH adherence --database "sqlite:$DIR/adherence.sqlite" --patients $((ROWS / 10)) --fills 12 --runs "$RUNS"
rm -f "$DIR"/adherence.sqlite*
# Issue 17: a segment of a tag and a reading clause over ROWS patients, and one patient's re-evaluation.
measure segments-sqlite $BENCH segments --database "sqlite:$DIR/segments.sqlite" --patients "$ROWS" --runs "$RUNS"
rm -f "$DIR"/segments.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  measure segments-postgres $BENCH segments --database "$TEND_BENCH_POSTGRES_URL" --patients $((ROWS / 5)) --runs "$RUNS"
fi
