-- 0004_analyst_macros: the questions analysts ask, as table macros over the fact tables.
--
-- Every macro reads only valid values. Dates are local calendar days; ts is UTC (hour END).
-- Station 'city' in trend macros means the mean over all stations per time step.
-- Documented with real outputs in docs/analysts.md.

-- normal_cdf(z): Φ(z) via erf, Abramowitz & Stegun (1964) formula 7.1.26 (|error| < 1.5e-7).
CREATE MACRO normal_cdf(z) AS
    0.5 * (1 + sign(z) * (1 - (
        0.254829592 * (1 / (1 + 0.3275911 * abs(z) / sqrt(2)))
        - 0.284496736 * pow(1 / (1 + 0.3275911 * abs(z) / sqrt(2)), 2)
        + 1.421413741 * pow(1 / (1 + 0.3275911 * abs(z) / sqrt(2)), 3)
        - 1.453152027 * pow(1 / (1 + 0.3275911 * abs(z) / sqrt(2)), 4)
        + 1.061405429 * pow(1 / (1 + 0.3275911 * abs(z) / sqrt(2)), 5)
    ) * exp(-(z * z) / 2)));

-- theil_sen_mk(x, y) over a table of (x, y) points: Theil–Sen slope (median of pairwise
-- slopes) with the Mann–Kendall S, its tie-corrected variance, Z and two-sided p-value.
-- Used by trend_daily / trend_monthly below (x in days or months).
CREATE MACRO trend_daily(st, p, d0, d1) AS TABLE
    WITH pts AS (
        SELECT (date - DATE '1970-01-01')::DOUBLE AS x, avg(value) AS y
        FROM daily
        WHERE param = p AND valid AND date BETWEEN d0 AND d1 AND (st = 'city' OR station = st)
        GROUP BY date
    ),
    pairs AS (
        SELECT (b.y - a.y) / (b.x - a.x) AS slope, sign(b.y - a.y) AS s
        FROM pts AS a JOIN pts AS b ON b.x > a.x
    ),
    ties AS (
        SELECT sum(t * (t - 1) * (2 * t + 5)) AS tie_term
        FROM (SELECT count(*) AS t FROM pts GROUP BY y HAVING count(*) > 1)
    ),
    stats AS (
        SELECT (SELECT count(*) FROM pts) AS n, median(slope) AS slope, sum(s) AS s
        FROM pairs
    )
    SELECT
        st AS station, p AS param, n,
        slope AS slope_per_day,
        slope * 365.25 AS slope_per_year,
        s AS mk_s,
        (n * (n - 1) * (2 * n + 5) - coalesce(tie_term, 0)) / 18.0 AS mk_var,
        CASE WHEN n < 3 THEN NULL
             ELSE (s - sign(s)) / sqrt((n * (n - 1) * (2 * n + 5) - coalesce(tie_term, 0)) / 18.0)
        END AS mk_z,
        CASE WHEN n < 3 THEN NULL
             ELSE 2 * (1 - normal_cdf(abs(
                 (s - sign(s)) / sqrt((n * (n - 1) * (2 * n + 5) - coalesce(tie_term, 0)) / 18.0)
             )))
        END AS p_value
    FROM stats, ties;

-- trend_monthly(station|'city', param, first_day, last_day): the same on monthly means of
-- valid daily values (months with at least min_days valid days), slope per year.
CREATE MACRO trend_monthly(st, p, d0, d1, min_days := 20) AS TABLE
    WITH months AS (
        SELECT date_trunc('month', date) AS month, avg(value) AS y,
               count(DISTINCT date) AS days
        FROM daily
        WHERE param = p AND valid AND date BETWEEN d0 AND d1 AND (st = 'city' OR station = st)
        GROUP BY 1
    ),
    pts AS (
        SELECT (year(month) * 12 + month(month))::DOUBLE AS x, y FROM months
        WHERE days >= min_days
    ),
    pairs AS (
        SELECT (b.y - a.y) / (b.x - a.x) AS slope, sign(b.y - a.y) AS s
        FROM pts AS a JOIN pts AS b ON b.x > a.x
    ),
    ties AS (
        SELECT sum(t * (t - 1) * (2 * t + 5)) AS tie_term
        FROM (SELECT count(*) AS t FROM pts GROUP BY y HAVING count(*) > 1)
    ),
    stats AS (
        SELECT (SELECT count(*) FROM pts) AS n, median(slope) AS slope, sum(s) AS s FROM pairs
    )
    SELECT
        st AS station, p AS param, n AS months,
        slope * 12 AS slope_per_year,
        s AS mk_s,
        CASE WHEN n < 3 THEN NULL
             ELSE 2 * (1 - normal_cdf(abs(
                 (s - sign(s)) / sqrt((n * (n - 1) * (2 * n + 5) - coalesce(tie_term, 0)) / 18.0)
             )))
        END AS p_value
    FROM stats, ties;

-- exceedance_summary(first_day, last_day): per station and pollutant of the daily AQI report,
-- the days whose IAQI exceeds 100 (above the Grade II daily limit of the standard in force),
-- out of the days with a valid value.
CREATE MACRO exceedance_summary(d0, d1) AS TABLE
    WITH items AS (
        SELECT station, date, standard, unnest(iaqi) AS item
        FROM aqi_daily
        WHERE date BETWEEN d0 AND d1
    )
    SELECT
        station,
        item.pollutant AS pollutant,
        count(*) AS days,
        count(*) FILTER (WHERE item.iaqi > 100) AS exceedance_days,
        round(count(*) FILTER (WHERE item.iaqi > 100) / count(*), 4) AS exceedance_rate,
        max(item.concentration) AS max_concentration,
        max(item.iaqi) AS max_iaqi
    FROM items
    GROUP BY ALL
    ORDER BY exceedance_days DESC, station, pollutant;

-- co_exceedance(first_day, last_day): PM2.5 and O3 exceeding together (IAQI > 100) — days per
-- station from the daily report, and hours per station from the real-time report.
CREATE MACRO co_exceedance(d0, d1) AS TABLE
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
              WHERE (ts AT TIME ZONE 'Asia/Shanghai')::DATE BETWEEN d0 AND d1)
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
    FROM stations AS s
    WHERE s.station IN (SELECT station FROM dly)
    ORDER BY co_exceedance_days DESC, s.station;

-- wind_pairs(station, param, first_ts, last_ts): each valid hourly value with the hour's
-- wind (vector-mean direction, mean speed) and its 16-point sector.
CREATE MACRO wind_pairs(st, p, t0, t1) AS TABLE
    SELECT
        c.ts, c.value, wd.value AS wd, ws.value AS ws,
        (floor((wd.value + 11.25) / 22.5)::INTEGER % 16) AS sector_index,
        ['N','NNE','NE','ENE','E','ESE','SE','SSE','S','SSW','SW','WSW','W','WNW','NW','NNW'][
            (floor((wd.value + 11.25) / 22.5)::INTEGER % 16) + 1] AS sector
    FROM hourly AS c
    JOIN hourly AS wd ON wd.station = c.station AND wd.ts = c.ts AND wd.param = 'wd' AND wd.valid
    JOIN hourly AS ws ON ws.station = c.station AND ws.ts = c.ts AND ws.param = 'ws' AND ws.valid
    WHERE c.station = st AND c.param = p AND c.valid AND c.ts > t0 AND c.ts <= t1;

-- wind_sectors(station, param, first_ts, last_ts): concentration statistics by wind sector.
CREATE MACRO wind_sectors(st, p, t0, t1) AS TABLE
    SELECT sector_index, sector, count(*) AS hours,
           avg(value) AS mean, quantile_cont(value, 0.5) AS median,
           quantile_cont(value, 0.9) AS p90, max(value) AS max, avg(ws) AS mean_ws
    FROM wind_pairs(st, p, t0, t1)
    GROUP BY ALL
    ORDER BY sector_index;

-- polar_bins(station, param, first_ts, last_ts): mean concentration by wind speed band × sector
-- (the table behind a polar plot); bands in m/s.
CREATE MACRO polar_bins(st, p, t0, t1) AS TABLE
    SELECT sector_index, sector,
           CASE WHEN ws < 1 THEN '0-1' WHEN ws < 2 THEN '1-2' WHEN ws < 3 THEN '2-3'
                WHEN ws < 5 THEN '3-5' WHEN ws < 8 THEN '5-8' ELSE '8+' END AS ws_band,
           count(*) AS hours, avg(value) AS mean
    FROM wind_pairs(st, p, t0, t1)
    GROUP BY ALL
    ORDER BY sector_index, ws_band;

-- cpf(station, param, percentile, first_ts, last_ts): conditional probability function per
-- sector: the share of the sector's hours whose value is at or above the period's percentile.
CREATE MACRO cpf(st, p, pct, t0, t1) AS TABLE
    WITH pairs AS (SELECT * FROM wind_pairs(st, p, t0, t1)),
    threshold AS (SELECT quantile_cont(value, pct) AS v FROM pairs)
    SELECT sector_index, sector, count(*) AS hours,
           count(*) FILTER (WHERE value >= (SELECT v FROM threshold)) AS hours_above,
           round(count(*) FILTER (WHERE value >= (SELECT v FROM threshold)) / count(*), 4) AS cpf,
           (SELECT v FROM threshold) AS threshold
    FROM pairs
    GROUP BY ALL
    ORDER BY sector_index;

-- completeness(first_day, last_day): per station and parameter, valid hourly means out of the
-- hours in the period (24 per local day), and valid days.
CREATE MACRO completeness(d0, d1) AS TABLE
    WITH h AS (
        SELECT station, param, count(*) FILTER (WHERE valid) AS valid_hours
        FROM hourly
        WHERE param IN (SELECT param FROM parameters)  -- measured, not derived (o3_8h, …)
          AND (ts - INTERVAL 1 MICROSECOND) AT TIME ZONE 'Asia/Shanghai' >= d0::TIMESTAMP
          AND (ts - INTERVAL 1 MICROSECOND) AT TIME ZONE 'Asia/Shanghai' < (d1 + 1)::TIMESTAMP
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
    ORDER BY hourly_completeness, h.station, h.param;
