-- 0008_forecast: the 72-hour forecast, its early warnings, the models that made it, their skill.
--
-- Written by aircarbon/pipeline/forecast.py (`aircarbon forecast`, the daily DAG's `forecast`
-- task). A forecast issue is one partition (issued_date) of forecasts and warnings, replaced in
-- one transaction, so re-running a day replaces that issue. docs/forecast.md explains the
-- model, the baselines and the warning rules.

CREATE TABLE forecasts (
    issued_date DATE NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    model_version VARCHAR,
    method VARCHAR NOT NULL,
    station VARCHAR NOT NULL,
    param VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    date DATE NOT NULL,
    lead_hours INTEGER NOT NULL,
    value DOUBLE,
    lower DOUBLE,
    upper DOUBLE,
    interval_pct INTEGER,
    unit VARCHAR,
    category VARCHAR,
    category_zh VARCHAR
);
COMMENT ON TABLE forecasts IS 'Forecasts issued at the end of a local day for the next 72 hours: hourly pm25, o3, no2 and the daily AQI, per station and city-wide (identity: issued_date, station, param, ts; loaded per issued_date).';
COMMENT ON COLUMN forecasts.issued_date IS 'Local day at whose end (local midnight) the forecast was issued: the origin.';
COMMENT ON COLUMN forecasts.issued_at IS 'The origin instant, UTC (local midnight ending issued_date).';
COMMENT ON COLUMN forecasts.model_version IS 'forecast_models.model_version of the model used; NULL for a baseline fallback.';
COMMENT ON COLUMN forecasts.method IS 'How the value was made: gbm (trained gradient boosting), or a fallback baseline such as persistence_fallback (history too short or no model), named so.';
COMMENT ON COLUMN forecasts.station IS 'Station id, or city for the city-wide forecast (mean over the stations that report the parameter).';
COMMENT ON COLUMN forecasts.param IS 'pm25, o3 or no2 (hourly means, µg/m³), or aqi for the daily AQI (HJ 633) of a local day.';
COMMENT ON COLUMN forecasts.ts IS 'End of the forecast hour, UTC; for aqi rows the end of the local day (local midnight).';
COMMENT ON COLUMN forecasts.date IS 'Local day the hour belongs to (an hour ending at local midnight belongs to the day before), or the day of an aqi row.';
COMMENT ON COLUMN forecasts.lead_hours IS 'Hours from issued_at to ts (1..72; 24, 48, 72 for aqi rows).';
COMMENT ON COLUMN forecasts.value IS 'Point forecast (µg/m³, or the AQI for aqi rows).';
COMMENT ON COLUMN forecasts.lower IS 'Lower bound of the prediction interval (interval_pct central interval).';
COMMENT ON COLUMN forecasts.upper IS 'Upper bound of the prediction interval.';
COMMENT ON COLUMN forecasts.interval_pct IS 'Nominal coverage of [lower, upper], percent (80 by default; forecast.toml).';
COMMENT ON COLUMN forecasts.unit IS 'Unit of value/lower/upper: ug/m3, or AQI.';
COMMENT ON COLUMN forecasts.category IS 'AQI category (English) of value, for aqi rows.';
COMMENT ON COLUMN forecasts.category_zh IS 'AQI category (Chinese) of value, for aqi rows.';

CREATE TABLE warnings (
    issued_date DATE NOT NULL,
    issued_at TIMESTAMPTZ,
    model_version VARCHAR,
    method VARCHAR,
    station VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    level VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    days INTEGER,
    max_aqi INTEGER,
    max_value DOUBLE,
    rule VARCHAR,
    reason VARCHAR,
    reason_zh VARCHAR,
    source VARCHAR
);
COMMENT ON TABLE warnings IS 'Early warnings raised by a forecast issue: heavy-pollution levels (blue/yellow/orange/red) from forecast daily AQI and O3 episode alerts (identity: issued_date, station, kind, start_date; loaded per issued_date with the forecasts that raised them).';
COMMENT ON COLUMN warnings.issued_date IS 'The forecast issue (forecasts.issued_date) that raised the warning.';
COMMENT ON COLUMN warnings.issued_at IS 'The forecast origin, UTC.';
COMMENT ON COLUMN warnings.model_version IS 'Model of that forecast issue (NULL for a baseline fallback).';
COMMENT ON COLUMN warnings.method IS 'forecasts.method of the issue.';
COMMENT ON COLUMN warnings.station IS 'city, or a station id.';
COMMENT ON COLUMN warnings.kind IS 'heavy_pollution or o3_episode.';
COMMENT ON COLUMN warnings.level IS 'blue, yellow, orange or red for heavy_pollution; o3 for o3_episode.';
COMMENT ON COLUMN warnings.start_date IS 'First local day of the forecast episode.';
COMMENT ON COLUMN warnings.end_date IS 'Last local day of the forecast episode (inside the 72-hour horizon).';
COMMENT ON COLUMN warnings.days IS 'Days of the episode counted by the rule (observed issue day included when it qualifies; docs/forecast.md).';
COMMENT ON COLUMN warnings.max_aqi IS 'Highest daily AQI of the episode days.';
COMMENT ON COLUMN warnings.max_value IS 'Highest daily maximum 8-hour O3 (µg/m³) for o3_episode; NULL otherwise.';
COMMENT ON COLUMN warnings.rule IS 'The rule of forecast.toml that matched (its id).';
COMMENT ON COLUMN warnings.reason IS 'Why, in English (which days, which thresholds).';
COMMENT ON COLUMN warnings.reason_zh IS 'Why, in Chinese.';
COMMENT ON COLUMN warnings.source IS 'The document the rule follows (forecast.toml sources).';

CREATE TABLE forecast_models (
    model_version VARCHAR NOT NULL,
    trained_at TIMESTAMPTZ NOT NULL,
    trained_through DATE NOT NULL,
    train_start TIMESTAMPTZ,
    train_end TIMESTAMPTZ,
    params VARCHAR[],
    series INTEGER,
    rows BIGINT,
    method VARCHAR,
    library VARCHAR,
    path VARCHAR,
    fit_seconds DOUBLE,
    metrics VARCHAR
);
COMMENT ON TABLE forecast_models IS 'Trained forecast models, one row per version, with the training window and hold-out metrics (identity: model_version). Artefacts under <data dir>/models/forecast/<version>/.';
COMMENT ON COLUMN forecast_models.model_version IS 'Version id: gbm-<last training day>-<hash of the training window and settings>.';
COMMENT ON COLUMN forecast_models.trained_at IS 'When the model was fitted, UTC (the origin of the issue that triggered it).';
COMMENT ON COLUMN forecast_models.trained_through IS 'Last local day of the training window; the retrain schedule counts from it.';
COMMENT ON COLUMN forecast_models.train_start IS 'First hour end (UTC) of the training history.';
COMMENT ON COLUMN forecast_models.train_end IS 'Last hour end (UTC) of the training history.';
COMMENT ON COLUMN forecast_models.params IS 'Parameters with a model (pm25, o3, no2).';
COMMENT ON COLUMN forecast_models.series IS 'Station series (plus city) in the training set.';
COMMENT ON COLUMN forecast_models.rows IS 'Training rows (origin × lead × series) over all parameters.';
COMMENT ON COLUMN forecast_models.method IS 'Model family and loss, e.g. HistGradientBoostingRegressor(poisson) + residual-ratio intervals.';
COMMENT ON COLUMN forecast_models.library IS 'scikit-learn version that fitted it.';
COMMENT ON COLUMN forecast_models.path IS 'Folder of the artefacts (model.pkl, model.json).';
COMMENT ON COLUMN forecast_models.fit_seconds IS 'Wall-clock training time.';
COMMENT ON COLUMN forecast_models.metrics IS 'JSON: hold-out RMSE/MAE per parameter and lead day, and the interval ratios.';

CREATE TABLE forecast_skill (
    backtest_id VARCHAR NOT NULL,
    model_version VARCHAR,
    param VARCHAR NOT NULL,
    lead_hours INTEGER NOT NULL,
    n BIGINT,
    rmse DOUBLE,
    mae DOUBLE,
    persistence_rmse DOUBLE,
    persistence_mae DOUBLE,
    climatology_rmse DOUBLE,
    climatology_mae DOUBLE,
    skill DOUBLE,
    skill_climatology DOUBLE,
    category_hit_rate DOUBLE,
    persistence_hit_rate DOUBLE,
    climatology_hit_rate DOUBLE,
    coverage DOUBLE,
    first_origin DATE,
    last_origin DATE,
    computed_at TIMESTAMPTZ
);
COMMENT ON TABLE forecast_skill IS 'Skill of the latest rolling-origin backtest by parameter and lead day, next to persistence and climatology baselines (identity: param, lead_hours; replaced as a whole by each backtest).';
COMMENT ON COLUMN forecast_skill.backtest_id IS 'Id of the backtest run (its window and settings).';
COMMENT ON COLUMN forecast_skill.model_version IS 'Model settings the backtest refitted (gbm-backtest-<hash>), or the stored version it evaluated.';
COMMENT ON COLUMN forecast_skill.param IS 'pm25, o3, no2 (hourly values of the lead day) or aqi (daily AQI).';
COMMENT ON COLUMN forecast_skill.lead_hours IS 'End of the lead window: 24 = hours 1-24 (day 1), 48 = hours 25-48, 72 = hours 49-72.';
COMMENT ON COLUMN forecast_skill.n IS 'Forecast-observation pairs scored.';
COMMENT ON COLUMN forecast_skill.rmse IS 'Root-mean-square error of the model (µg/m³, or AQI).';
COMMENT ON COLUMN forecast_skill.mae IS 'Mean absolute error of the model.';
COMMENT ON COLUMN forecast_skill.persistence_rmse IS 'RMSE of persistence: the same hour of the last observed day (aqi: the issue day''s AQI).';
COMMENT ON COLUMN forecast_skill.persistence_mae IS 'MAE of persistence.';
COMMENT ON COLUMN forecast_skill.climatology_rmse IS 'RMSE of climatology: mean by hour of day over the 30 days before the origin.';
COMMENT ON COLUMN forecast_skill.climatology_mae IS 'MAE of climatology.';
COMMENT ON COLUMN forecast_skill.skill IS '1 - rmse / persistence_rmse: > 0 beats persistence, <= 0 does not (the bulletin says so).';
COMMENT ON COLUMN forecast_skill.skill_climatology IS '1 - rmse / climatology_rmse.';
COMMENT ON COLUMN forecast_skill.category_hit_rate IS 'Share of days whose forecast AQI category (aqi) or daily IAQI category (pollutants) equals the observed one.';
COMMENT ON COLUMN forecast_skill.persistence_hit_rate IS 'The same hit rate for persistence.';
COMMENT ON COLUMN forecast_skill.climatology_hit_rate IS 'The same hit rate for climatology.';
COMMENT ON COLUMN forecast_skill.coverage IS 'Share of observations inside the prediction interval (nominal: forecasts.interval_pct).';
COMMENT ON COLUMN forecast_skill.first_origin IS 'First issue day scored.';
COMMENT ON COLUMN forecast_skill.last_origin IS 'Last issue day scored.';
COMMENT ON COLUMN forecast_skill.computed_at IS 'When the backtest ran, UTC.';

-- forecast_vs_observed(param, first_issue_day, last_issue_day): every forecast issued in the
-- period next to what was then observed (valid hourly means; for 'city' the mean over stations;
-- for aqi the station's aqi_daily — city AQI is left NULL: it is computed from station means by
-- the bulletin, not stored), with the error and whether the interval held it.
CREATE MACRO forecast_vs_observed(p, d0, d1) AS TABLE
    WITH f AS (
        SELECT * FROM forecasts WHERE param = p AND issued_date BETWEEN d0 AND d1
    ),
    obs_hourly AS (
        SELECT station, ts, value FROM hourly
        WHERE param = p AND valid AND p <> 'aqi'
          AND ts > (d0::TIMESTAMP AT TIME ZONE 'Asia/Shanghai')
          AND ts <= ((d1 + 4)::TIMESTAMP AT TIME ZONE 'Asia/Shanghai')
        UNION ALL
        SELECT 'city' AS station, ts, avg(value) AS value FROM hourly
        WHERE param = p AND valid AND p <> 'aqi'
          AND ts > (d0::TIMESTAMP AT TIME ZONE 'Asia/Shanghai')
          AND ts <= ((d1 + 4)::TIMESTAMP AT TIME ZONE 'Asia/Shanghai')
        GROUP BY ts
    ),
    obs AS (
        SELECT station, ts, NULL::DATE AS date, value FROM obs_hourly
        UNION ALL
        SELECT station, NULL::TIMESTAMPTZ AS ts, date, aqi::DOUBLE AS value FROM aqi_daily
        WHERE p = 'aqi' AND date BETWEEN d0 AND d1 + 3
    )
    SELECT f.issued_date, f.station, f.param, f.ts, f.date, f.lead_hours, f.method,
           f.model_version, f.value AS forecast, f.lower, f.upper, o.value AS observed,
           f.value - o.value AS error,
           CASE WHEN o.value IS NULL THEN NULL
                ELSE o.value BETWEEN f.lower AND f.upper END AS in_interval
    FROM f LEFT JOIN obs AS o
      ON o.station = f.station
     AND ((f.param <> 'aqi' AND o.ts = f.ts) OR (f.param = 'aqi' AND o.date = f.date))
    ORDER BY f.issued_date, f.station, f.ts;
