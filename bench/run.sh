#!/usr/bin/env bash
# Runs the benchmarks whose figures are in bench/README.md. Needs a release build
# (`swift build -c release --product tend`) and, for PostgreSQL, TEND_BENCH_POSTGRES_URL
# pointing at a throw-away database (its tables are dropped). Output: bench/results/.
#   ROWS=1000000 RUNS=1 bench/run.sh     # the full-size figures
#   ROWS=100000 RUNS=3 bench/run.sh      # medians of three at a tenth of the size
set -euo pipefail
cd "$(dirname "$0")/.."
TEND=.build/release/tend
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-1}
mkdir -p bench/results
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
measure() { local name=$1; shift; echo "== $name: $*"; "$@" | tee "bench/results/$name-$ROWS.txt"; }
measure import-sqlite $TEND bench import-patients --database "sqlite:$DIR/import.sqlite" --rows "$ROWS" --runs "$RUNS"
rm -f "$DIR"/import.sqlite*
measure enrol-sqlite $TEND bench enrol --database "sqlite:$DIR/enrol.sqlite" --rows "$ROWS" --runs "$RUNS"
rm -f "$DIR"/enrol.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  measure import-postgres $TEND bench import-patients --database "$TEND_BENCH_POSTGRES_URL" --rows "$ROWS" --runs "$RUNS"
  measure enrol-postgres $TEND bench enrol --database "$TEND_BENCH_POSTGRES_URL" --rows "$ROWS" --runs "$RUNS"
fi
measure dispatch-inapp-sqlite $TEND bench dispatch --database "sqlite:$DIR/dispatch.sqlite" --touchpoints 100000 --runs 3
rm -f "$DIR"/dispatch.sqlite*
measure dispatch-webhook-sqlite $TEND bench dispatch --database "sqlite:$DIR/dispatch.sqlite" --touchpoints 20000 --channel webhook --runs 3
rm -f "$DIR"/dispatch.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  measure dispatch-inapp-postgres $TEND bench dispatch --database "$TEND_BENCH_POSTGRES_URL" --touchpoints 100000 --runs 3
  measure dispatch-webhook-postgres $TEND bench dispatch --database "$TEND_BENCH_POSTGRES_URL" --touchpoints 20000 --channel webhook --runs 3
fi
measure triage $TEND bench triage --messages 200000 --runs 5
