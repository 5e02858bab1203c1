-- 0011_station_versions: the stations dimension keeps its history (slowly changing, type 2).
--
-- Why: the network is the operator's data now (`aircarbon stations add/retire`, network.toml),
-- and stations move, are renamed, get a national code or are retired. Replacing the table
-- with the current file would rewrite the past: a report on 2024 would show a station under
-- its 2026 name and position, and a retired station would vanish from the lake. So a changed
-- station keeps its old row, closed with valid_to, and a new row opens (valid_from); a
-- retired one keeps its last row closed on its last day in service. is_current marks each
-- station's latest row: views and macros join on it, so no station is counted twice.

ALTER TABLE stations ADD COLUMN national_code VARCHAR;
ALTER TABLE stations ADD COLUMN valid_from DATE;
ALTER TABLE stations ADD COLUMN valid_to DATE;
ALTER TABLE stations ADD COLUMN is_current BOOLEAN;
COMMENT ON TABLE stations IS 'The monitoring stations of the network, from the network file (network.toml): one row per station version (slowly changing dimension, type 2; identity: station, valid_from). Join on is_current for a station''s latest name and position, or on the version valid on a day (valid_from <= day <= valid_to, nulls open).';
COMMENT ON COLUMN stations.national_code IS 'National (CNEMC) station code, e.g. 1001A: how public hourly files name the site (aircarbon import cnemc). Null when the station has none.';
COMMENT ON COLUMN stations.valid_from IS 'First local day this version of the station holds: the station''s first day in service for its first version (null: before the lake''s history), the day of the change for a later one.';
COMMENT ON COLUMN stations.valid_to IS 'Last local day this version holds: the day before the next version, or the station''s last day in service when it was retired; null while in force.';
COMMENT ON COLUMN stations.is_current IS 'True on the latest version of each station (retired ones included): join on it to count each station once.';

CREATE OR REPLACE VIEW daily_named AS
SELECT d.station, s.name_en AS station_name, d.param, p.name_en AS param_name, d.date, d.value,
       p.unit, d.n, d.valid
FROM daily AS d
LEFT JOIN (SELECT * FROM stations WHERE is_current IS NOT false) AS s USING (station)
LEFT JOIN parameters AS p USING (param);
COMMENT ON VIEW daily_named IS 'daily with station and parameter names (the station''s latest version) and the unit (o3_*_max rows have no parameters match).';

-- network_tz(): the network's IANA time zone, the one local days are counted in. A constant
-- macro (expanded when a query is bound, so filters on it still skip files), rewritten by
-- warehouse.load.load_dimensions whenever the network file names another zone. The macros
-- below that count local days used a fixed 'Asia/Shanghai'; they now use it.
CREATE MACRO network_tz() AS 'Asia/Shanghai';

-- events(first_day, last_day): as 0005, names from each station's latest version only.
CREATE OR REPLACE MACRO events(d0, d1) AS TABLE
    SELECT e.*, s.name_en AS station_name
    FROM emission_events AS e
    LEFT JOIN (SELECT station, name_en FROM stations WHERE is_current IS NOT false) AS s
        USING (station)
    WHERE (start_ts AT TIME ZONE network_tz())::DATE BETWEEN d0 AND d1
    ORDER BY start_ts DESC;

-- co_exceedance(first_day, last_day): as 0004 (PM2.5 and O3 IAQI > 100 together: days and
-- hours per station), one row per station whatever its versions.
CREATE OR REPLACE MACRO co_exceedance(d0, d1) AS TABLE
    WITH dly AS (
        SELECT station, date,
               max(CASE WHEN item.pollutant LIKE 'pm25%' THEN item.iaqi END) AS pm25_iaqi,
               max(CASE WHEN item.pollutant LIKE 'o3%' THEN item.iaqi END) AS o3_iaqi
        FROM (SELECT station, date, unnest(iaqi) AS item FROM aqi_daily
              WHERE date BETWEEN d0 AND d1)
        GROUP BY ALL
    ),
    hly AS (
        SELECT station,
               max(CASE WHEN item.pollutant LIKE 'pm25%' THEN item.iaqi END) AS pm25_iaqi,
               max(CASE WHEN item.pollutant LIKE 'o3%' THEN item.iaqi END) AS o3_iaqi
        FROM (SELECT station, ts, unnest(iaqi) AS item FROM aqi_hourly
              WHERE (ts AT TIME ZONE network_tz())::DATE BETWEEN d0 AND d1)
        GROUP BY station, ts
    )
    SELECT
        s.station,
        (SELECT count(*) FROM dly WHERE dly.station = s.station) AS days,
        (SELECT count(*) FROM dly WHERE dly.station = s.station
            AND pm25_iaqi > 100 AND o3_iaqi > 100) AS co_exceedance_days,
        (SELECT count(*) FROM dly WHERE dly.station = s.station AND pm25_iaqi > 100)
            AS pm25_exceedance_days,
        (SELECT count(*) FROM dly WHERE dly.station = s.station AND o3_iaqi > 100)
            AS o3_exceedance_days,
        (SELECT count(*) FROM hly WHERE hly.station = s.station
            AND pm25_iaqi > 100 AND o3_iaqi > 100) AS co_exceedance_hours
    FROM (SELECT station FROM stations WHERE is_current IS NOT false) AS s
    WHERE s.station IN (SELECT station FROM dly)
    ORDER BY co_exceedance_days DESC, s.station;

-- completeness(first_day, last_day): as 0007, local days in the network's zone.
CREATE OR REPLACE MACRO completeness(d0, d1) AS TABLE
    WITH h AS (
        SELECT station, param, count(*) FILTER (WHERE valid) AS valid_hours
        FROM hourly
        -- hour ends in (local d0 00:00, local d1+1 00:00], compared in UTC
        WHERE ts > (d0::TIMESTAMP AT TIME ZONE network_tz())
          AND ts <= ((d1 + 1)::TIMESTAMP AT TIME ZONE network_tz())
        GROUP BY ALL
    ),
    d AS (
        SELECT station, param, count(*) FILTER (WHERE valid) AS valid_days
        FROM daily WHERE date BETWEEN d0 AND d1
        GROUP BY ALL
    )
    SELECT h.station, h.param, h.valid_hours,
           (d1 - d0 + 1) * 24 AS expected_hours,
           round(h.valid_hours / ((d1 - d0 + 1) * 24), 4) AS hourly_completeness,
           coalesce(d.valid_days, 0) AS valid_days
    FROM h LEFT JOIN d USING (station, param)
    WHERE h.param IN (SELECT param FROM parameters)  -- measured, not derived (o3_8h, …)
    ORDER BY hourly_completeness, h.station, h.param;

-- forecast_vs_observed(param, first_issue_day, last_issue_day): as 0008, local days in the
-- network's zone.
CREATE OR REPLACE MACRO forecast_vs_observed(p, d0, d1) AS TABLE
    WITH f AS (
        SELECT * FROM forecasts WHERE param = p AND issued_date BETWEEN d0 AND d1
    ),
    obs_hourly AS (
        SELECT station, ts, value FROM hourly
        WHERE param = p AND valid AND p <> 'aqi'
          AND ts > (d0::TIMESTAMP AT TIME ZONE network_tz())
          AND ts <= ((d1 + 4)::TIMESTAMP AT TIME ZONE network_tz())
        UNION ALL
        SELECT 'city' AS station, ts, avg(value) AS value FROM hourly
        WHERE param = p AND valid AND p <> 'aqi'
          AND ts > (d0::TIMESTAMP AT TIME ZONE network_tz())
          AND ts <= ((d1 + 4)::TIMESTAMP AT TIME ZONE network_tz())
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
