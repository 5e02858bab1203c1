-- 0007_faster_macros: the same answers as 0004, read with fewer passes over hourly.
--
-- wind_pairs read hourly three times (value, wd, ws self-joins); completeness converted every
-- row's ts to local time, so no file could be skipped. Measured on a year × 100 stations
-- (docs/benchmarks.md, Queries).

CREATE OR REPLACE MACRO wind_pairs(st, p, t0, t1) AS TABLE
    WITH w AS (
        SELECT ts,
               max(value) FILTER (WHERE param = p) AS value,
               max(value) FILTER (WHERE param = 'wd') AS wd,
               max(value) FILTER (WHERE param = 'ws') AS ws
        FROM hourly
        WHERE station = st AND param IN (p, 'wd', 'ws') AND valid AND ts > t0 AND ts <= t1
        GROUP BY ts
    )
    SELECT
        ts, value, wd, ws,
        (floor((wd + 11.25) / 22.5)::INTEGER % 16) AS sector_index,
        ['N','NNE','NE','ENE','E','ESE','SE','SSE','S','SSW','SW','WSW','W','WNW','NW','NNW'][
            (floor((wd + 11.25) / 22.5)::INTEGER % 16) + 1] AS sector
    FROM w
    WHERE value IS NOT NULL AND wd IS NOT NULL AND ws IS NOT NULL;

CREATE OR REPLACE MACRO completeness(d0, d1) AS TABLE
    WITH h AS (
        SELECT station, param, count(*) FILTER (WHERE valid) AS valid_hours
        FROM hourly
        -- hour ends in (local d0 00:00, local d1+1 00:00], compared in UTC
        WHERE ts > (d0::TIMESTAMP AT TIME ZONE 'Asia/Shanghai')
          AND ts <= ((d1 + 1)::TIMESTAMP AT TIME ZONE 'Asia/Shanghai')
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
