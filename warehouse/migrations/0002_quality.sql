-- 0002_quality: co-pollutant and carbon indicators, validation results, and the dead-letter store.

CREATE TABLE indicators_daily (
    station VARCHAR NOT NULL,
    date DATE NOT NULL,
    indicator VARCHAR NOT NULL,
    value DOUBLE,
    unit VARCHAR,
    n UINTEGER,
    valid BOOLEAN NOT NULL
);
COMMENT ON TABLE indicators_daily IS 'Daily co-pollutant and carbon indicators in long form (identity: station, date, indicator).';
COMMENT ON COLUMN indicators_daily.station IS 'Station id, or city for city-wide values.';
COMMENT ON COLUMN indicators_daily.date IS 'Local calendar day.';
COMMENT ON COLUMN indicators_daily.indicator IS 'Indicator code: ox, pm25_o3_coexceed_hours, pm25_pm10_ratio, pm25_co_ratio, sor, nor, soc, tvoc, ofp_total, oh_reactivity_total, toluene_benzene_ratio, co2_excess, ch4_excess, dco_dco2, co2e, …';
COMMENT ON COLUMN indicators_daily.value IS 'Indicator value, in unit.';
COMMENT ON COLUMN indicators_daily.unit IS 'Unit of value (µg/m³, ppbv, ppm, ppb, s⁻¹, ppb/ppm, h, 1 for ratios).';
COMMENT ON COLUMN indicators_daily.n IS 'Valid inputs (hours or species) the value is based on.';
COMMENT ON COLUMN indicators_daily.valid IS 'True when the inputs meet the completeness rules.';

CREATE TABLE validation_runs (
    run_id VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    batch VARCHAR,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    success BOOLEAN NOT NULL,
    severity_max VARCHAR,
    evaluated INTEGER,
    successful INTEGER,
    unsuccessful INTEGER,
    failed_expectations VARCHAR,
    docs_path VARCHAR,
    lake_snapshot BIGINT
);
COMMENT ON TABLE validation_runs IS 'Great Expectations validation results, one row per suite run (identity: run_id).';
COMMENT ON COLUMN validation_runs.run_id IS 'Unique id of the run.';
COMMENT ON COLUMN validation_runs.suite IS 'Expectation suite validated (e.g. readings, hourly, daily).';
COMMENT ON COLUMN validation_runs.batch IS 'The batch validated, e.g. hour=2026-11-24T10:00Z or date=2026-11-24.';
COMMENT ON COLUMN validation_runs.started_at IS 'When validation started, UTC.';
COMMENT ON COLUMN validation_runs.finished_at IS 'When validation finished, UTC.';
COMMENT ON COLUMN validation_runs.success IS 'True when every expectation passed.';
COMMENT ON COLUMN validation_runs.severity_max IS 'Highest severity among the failed expectations (critical, warning, info), null when none failed.';
COMMENT ON COLUMN validation_runs.evaluated IS 'Expectations evaluated.';
COMMENT ON COLUMN validation_runs.successful IS 'Expectations that passed.';
COMMENT ON COLUMN validation_runs.unsuccessful IS 'Expectations that failed.';
COMMENT ON COLUMN validation_runs.failed_expectations IS 'JSON array of the failed expectations (type, column, severity, observed value).';
COMMENT ON COLUMN validation_runs.docs_path IS 'Path of the Data Docs page of the run, if rendered.';
COMMENT ON COLUMN validation_runs.lake_snapshot IS 'Lake snapshot current when the run was recorded (for AT (VERSION => …) queries).';

CREATE TABLE dead_letter (
    received_at TIMESTAMPTZ NOT NULL,
    topic VARCHAR NOT NULL,
    station VARCHAR,
    reason VARCHAR NOT NULL,
    param VARCHAR,
    detail VARCHAR,
    payload BLOB,
    payload_size BIGINT
);
COMMENT ON TABLE dead_letter IS 'Rejected messages and readings, from the dead-letter store (loaded per UTC day of received_at).';
COMMENT ON COLUMN dead_letter.received_at IS 'When the collector received the message, UTC.';
COMMENT ON COLUMN dead_letter.topic IS 'MQTT topic the message arrived on.';
COMMENT ON COLUMN dead_letter.station IS 'Station id from the topic, when it could be read.';
COMMENT ON COLUMN dead_letter.reason IS 'Machine-readable rejection code.';
COMMENT ON COLUMN dead_letter.param IS 'The refused parameter when only one reading of the message was rejected; null for a whole message.';
COMMENT ON COLUMN dead_letter.detail IS 'Human-readable explanation.';
COMMENT ON COLUMN dead_letter.payload IS 'The raw message bytes, truncated to the configured limit.';
COMMENT ON COLUMN dead_letter.payload_size IS 'Size of the original payload in bytes (before truncation).';
