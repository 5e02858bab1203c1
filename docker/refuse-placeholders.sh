#!/bin/sh
# Entry point guard of every AirCarbon, Airflow and PostgreSQL container (docs/deployment.md):
# refuse to start while any variable still holds a placeholder secret of docker/.env.example
# ("change-me-…", also inside a connection string: "password=change-me-…", ":change-me-…@"),
# naming the variables; otherwise run the real entry point ("$@") as PID 1's child as before.
#
# Why at start and not only in the docs: a deployment brought up "to try it" with the example
# file keeps its guessable broker, database and Airflow passwords for ever after.
set -eu
bad=""
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
    eval "value=\${$name-}"
    case "$value" in
        change-me*|*password=change-me*|*:change-me*@*) bad="$bad $name" ;;
    esac
done
if [ -n "$bad" ]; then
    echo "refusing to start: placeholder secret(s) from .env.example in:$bad; set real values in docker/.env" >&2
    exit 78
fi
exec "$@"
