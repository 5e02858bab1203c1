#!/usr/bin/env bash
# The CeleryExecutor run of docs/scaling.md §3 on this machine's services, in one command:
#
#   docker/airflow/celery/run_local.sh          # from the repository root; ~3-4 min on 2 busy cores
#
# Airflow 3.3 with its metadata DB in a fresh PostgreSQL database, Celery on Redis (broker) and
# PostgreSQL (result backend), one Celery worker (concurrency 2), scheduler, dag-processor and
# api-server (the execution API the task processes report to); then one backfill run of
# aircarbon_station_groups (this folder) on simulated raw data of the hour ending
# 2026-11-24T10:00Z, and the evidence read back from PostgreSQL. Every process it starts is
# stopped and the database dropped on exit (also on failure or Ctrl-C); re-running starts afresh.
#
# Settings (environment): PGHOST PGPORT PGUSER (127.0.0.1 5432 postgres, trust auth),
# AIRFLOW_CELERY_DB (airflow_celery_run), BROKER_URL (redis://127.0.0.1:6379/7; or
# amqp://guest:guest@127.0.0.1:5672//), API_PORT (8799), RUN_DIR (/tmp/aircarbon_celery_run),
# KEEP=1 keeps the database and RUN_DIR (logs) for inspection.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=${AIRFLOW_CELERY_DB:-airflow_celery_run}
BROKER_URL=${BROKER_URL:-redis://127.0.0.1:6379/7}
API_PORT=${API_PORT:-8799}
RUN_DIR=${RUN_DIR:-/tmp/aircarbon_celery_run}
DAG_ID=aircarbon_station_groups
LOGICAL=2026-11-24T09:00:00+00:00 # the interval 09:00-10:00 UTC (the raw hour ending 10:00)
RUN_ID=backfill__2026-11-24T10:00:00+00:00 # a backfill run is named by its run_after (the end)
[[ -x $ROOT/.venv/bin/airflow ]] || (cd "$ROOT" && uv sync --frozen)
export PATH=$ROOT/.venv/bin:$PATH

PG="postgresql://$PGUSER@$PGHOST:$PGPORT/$DB"
export AIRFLOW_HOME=$RUN_DIR/home AIRCARBON_DATA_DIR=$RUN_DIR/data PYTHONPATH=$ROOT
export AIRFLOW__CORE__DAGS_FOLDER=$ROOT/docker/airflow/celery AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://$PGUSER@$PGHOST:$PGPORT/$DB
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=postgresql+asyncpg://$PGUSER@$PGHOST:$PGPORT/$DB
export AIRFLOW__CELERY__BROKER_URL=$BROKER_URL
export AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql+psycopg2://$PGUSER@$PGHOST:$PGPORT/$DB
export AIRFLOW__CELERY__WORKER_CONCURRENCY=2
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$API_PORT/execution/
export AIRFLOW__API__PORT=$API_PORT
AIRFLOW__API_AUTH__JWT_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
export AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=120 AIRFLOW__CORE__PARALLELISM=4

PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for _ in $(seq 30); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 1
    done
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    if [[ ${KEEP:-0} != 1 ]]; then
        dropdb --if-exists --force "$DB" || true
        rm -rf "$RUN_DIR"
        if [[ $BROKER_URL == redis://* ]] && command -v redis-cli >/dev/null; then
            redis-cli -u "$BROKER_URL" del _kombu.binding.default \
                _kombu.binding_permanent.default _kombu.binding_deadlines >/dev/null || true
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

start() { # NAME CMD...: in a session of its own (its whole process group is stopped on exit)
    local name=$1
    shift
    setsid "$@" >"$RUN_DIR/logs/$name.log" 2>&1 &
    PIDS+=($!)
    echo "started $name (pid $!): $*"
}

elapsed() { echo "$(($(date +%s) - T0)) s"; }

rm -rf "$RUN_DIR" && mkdir -p "$RUN_DIR/logs" "$AIRFLOW_HOME"
dropdb --if-exists --force "$DB"
createdb "$DB"
echo "metadata DB: $AIRFLOW__DATABASE__SQL_ALCHEMY_CONN; broker: $BROKER_URL"

# 12 stations x 3 params x 60 minutes of the hour ending 10:00 UTC, and 90 of group 0's
# readings delivered again by a second writer (the de-duplication removes them).
(cd "$ROOT" && python - <<'EOF')
import datetime as dt

from aircarbon.core.catalog import load_catalog
from aircarbon.core.settings import load_settings
from ingest.batch import ReadingBatch
from ingest.raw_store import write_readings

settings = load_settings()
stations = sorted(load_catalog(settings.catalog_dir).stations)
end = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
us = 1_000_000
batch, again = ReadingBatch(), ReadingBatch()
for s, station in enumerate(stations):
    for p, param in enumerate(("pm25", "pm10", "o3")):
        for minute in range(60):  # ts is a period's END: 09:01 ... 10:00
            ts = int((end - dt.timedelta(minutes=59 - minute)).timestamp()) * us
            row = (station, param, ts, 10.0 + s + p + minute / 10, "N", 60, minute, ts + us, "json")
            batch.append(*row)
            if (s * 3 + p) * 60 + minute < 90:
                again.append(*row[:7], ts + 30 * us, "json")
raw = settings.data_dir / "raw"
write_readings(batch.to_arrow(), raw, "collector-1")
write_readings(again.to_arrow(), raw, "collector-2")
print(f"raw data: {len(stations)} stations, {len(batch)} + {len(again)} readings in {raw}")
EOF

T0=$(date +%s)
airflow db migrate >"$RUN_DIR/logs/db-migrate.log" 2>&1
echo "airflow db migrate: done after $(elapsed)"

start api-server airflow api-server --port "$API_PORT"
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start celery-worker airflow celery worker --concurrency 2 --celery-hostname "worker1@%h"

wait_for() { # WHAT TIMEOUT_S CMD...
    local what=$1 limit=$2
    shift 2
    for _ in $(seq "$limit"); do
        if "$@" >/dev/null 2>&1; then
            echo "$what: after $(elapsed)"
            return 0
        fi
        sleep 1
    done
    echo "$what: not after ${limit} s; logs in $RUN_DIR/logs" >&2
    tail -n 20 "$RUN_DIR"/logs/*.log >&2
    return 1
}
q() { psql -d "$DB" -X -q -A -t -c "$1"; }
wait_for "api-server healthy" 300 curl -fsS "http://127.0.0.1:$API_PORT/api/v2/monitor/health"
wait_for "DAG parsed into the metadata DB" 300 \
    test "$(q "select count(*) from dag where dag_id = '$DAG_ID'")" = 1
wait_for "celery worker ready" 300 grep -q "ready" "$RUN_DIR/logs/celery-worker.log"

airflow dags unpause "$DAG_ID" >/dev/null
T1=$(date +%s)
airflow backfill create --dag-id "$DAG_ID" --from-date "$LOGICAL" --to-date "$LOGICAL" \
    >"$RUN_DIR/logs/backfill.log" 2>&1
echo "backfill created: run $RUN_ID"

state=""
for _ in $(seq 300); do
    state=$(q "select state from dag_run where dag_id = '$DAG_ID' and run_id = '$RUN_ID'")
    [[ $state == "${seen:-}" ]] || echo "dag run: ${state:-none} at $(elapsed)"
    seen=$state
    [[ $state == success || $state == failed ]] && break
    sleep 1
done
echo "dag run $RUN_ID: ${state:-not created} after $(($(date +%s) - T1)) s (total $(elapsed))"

echo
echo "== dag runs (metadata DB $DB; un-pausing also schedules the latest hour, on no data) =="
psql -d "$DB" -X -c "select run_id, run_type, state,
       to_char(end_date - start_date, 'SS.MS') as seconds from dag_run order by run_id"
echo "== task instances of $RUN_ID =="
psql -d "$DB" -X -c "select task_id, map_index, state, hostname, pid, queue,
       to_char(start_date, 'HH24:MI:SS.MS') as started, to_char(end_date, 'HH24:MI:SS.MS') as ended
  from task_instance where dag_id = '$DAG_ID' and run_id = '$RUN_ID'
 order by start_date, map_index"
echo "== returned values (xcom) =="
psql -d "$DB" -X -c "select task_id, map_index, value from xcom
 where dag_id = '$DAG_ID' and run_id = '$RUN_ID' and key = 'return_value'
 order by task_id, map_index"
echo "== Celery result backend =="
psql -d "$DB" -X -c "select status, count(*) from celery_taskmeta group by status"
echo "== celery worker log =="
grep -E "ready\.|Task .*(received|succeeded)" "$RUN_DIR/logs/celery-worker.log" |
    sed -E 's/^.*(celery@\S+ ready\.|Task .*)$/\1/' || true
[[ $state == success ]]
