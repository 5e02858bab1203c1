-- Run once by the postgres container on an empty volume (docker-entrypoint-initdb.d):
-- Airflow's metadata database is POSTGRES_DB (airflow); the DuckLake catalog gets its own
-- database, so a `airflow db reset` can never touch the warehouse's catalog.
CREATE DATABASE aircarbon_lake;
