-- The migration ledger: created before any migration runs, so it is not a migration itself.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE schema_migrations IS 'Migrations applied to this lake (warehouse/migrations/NNNN_name.sql), one row each.';
COMMENT ON COLUMN schema_migrations.version IS 'Four-digit migration number, applied in order.';
COMMENT ON COLUMN schema_migrations.name IS 'Migration name (the file name without number and .sql).';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration committed, UTC.';
