#!/usr/bin/env bash
# Runs the benchmarks whose figures are in bench/README.md. Needs a release build
# (`swift build -c release --product tend`) and, for PostgreSQL, TEND_BENCH_POSTGRES_URL
# pointing at a throw-away database. Output goes to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
TEND=.build/release/tend
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
mkdir -p bench/results
DIR=$(mktemp -d)
run() { echo "== $*"; "$@"; }
run $TEND bench import-patients --database "sqlite:$DIR/import.sqlite" --rows "$ROWS" --runs "$RUNS" | tee bench/results/import-sqlite.txt
rm -f "$DIR"/import.sqlite*
run $TEND bench enrol --database "sqlite:$DIR/enrol.sqlite" --rows "$ROWS" --runs "$RUNS" | tee bench/results/enrol-sqlite.txt
rm -f "$DIR"/enrol.sqlite*
if [ -n "${TEND_BENCH_POSTGRES_URL:-}" ]; then
  run $TEND bench import-patients --database "$TEND_BENCH_POSTGRES_URL" --rows "$ROWS" --runs "${PG_RUNS:-1}" | tee bench/results/import-postgres.txt
  run $TEND bench enrol --database "$TEND_BENCH_POSTGRES_URL" --rows "$ROWS" --runs "${PG_RUNS:-1}" | tee bench/results/enrol-postgres.txt
fi
rm -rf "$DIR"
