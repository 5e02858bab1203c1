-- 0013_city_aqi: the city's daily AQI as one macro, the same method as transforms.city_aqi.
--
-- Why: the lake holds station AQIs only, and the city value was computed more than one way
-- (the bulletin: assessment stations, six pollutants; the forecast: PM2.5/O3/NO2 over every
-- station), so the same day read 101 in the bulletin and 96 in the forecast. One method, as
-- HJ 663 assesses a city: per pollutant, the mean of the valid daily values (daily.valid,
-- GB 3095 Table 4) of the assessment stations (national, PM-component, VOC and GHG sites;
-- background sites excluded: transforms.city_aqi.ASSESSMENT_TYPES), then HJ 633 on those
-- means under the version in force on the day (HJ 633-2012 before 2026-03-01, HJ 633-2026
-- from it), with transforms/aqi.py's input rounding, above-the-top rules and ceiling.
--
-- The HJ 633 tables below are aircarbon/core/catalog/data/aqi.toml as data:
-- tests/warehouse/test_city_aqi.py holds them equal to the catalog, and the macro's answers
-- equal to transforms.city_aqi.city_aqi on the same lake. A new HJ 633 version is a new
-- migration replacing aqi_breakpoints() and aqi_daily_report().

-- aqi_breakpoints(): every HJ 633 breakpoint segment: version, breakpoint column, segment
-- 1..n, concentration interval (bp_lo, bp_hi] and the IAQI interval it maps to.
CREATE MACRO aqi_breakpoints() AS TABLE
    SELECT version, col, seg, bp_lo::DOUBLE AS bp_lo, bp_hi::DOUBLE AS bp_hi,
           iaqi_lo::DOUBLE AS iaqi_lo, iaqi_hi::DOUBLE AS iaqi_hi
    FROM (VALUES
        ('2012', 'so2_24h', 1, 0.0, 50.0, 0, 50),
        ('2012', 'so2_24h', 2, 50.0, 150.0, 50, 100),
        ('2012', 'so2_24h', 3, 150.0, 475.0, 100, 150),
        ('2012', 'so2_24h', 4, 475.0, 800.0, 150, 200),
        ('2012', 'so2_24h', 5, 800.0, 1600.0, 200, 300),
        ('2012', 'so2_24h', 6, 1600.0, 2100.0, 300, 400),
        ('2012', 'so2_24h', 7, 2100.0, 2620.0, 400, 500),
        ('2012', 'so2_1h', 1, 0.0, 150.0, 0, 50),
        ('2012', 'so2_1h', 2, 150.0, 500.0, 50, 100),
        ('2012', 'so2_1h', 3, 500.0, 650.0, 100, 150),
        ('2012', 'so2_1h', 4, 650.0, 800.0, 150, 200),
        ('2012', 'no2_24h', 1, 0.0, 40.0, 0, 50),
        ('2012', 'no2_24h', 2, 40.0, 80.0, 50, 100),
        ('2012', 'no2_24h', 3, 80.0, 180.0, 100, 150),
        ('2012', 'no2_24h', 4, 180.0, 280.0, 150, 200),
        ('2012', 'no2_24h', 5, 280.0, 565.0, 200, 300),
        ('2012', 'no2_24h', 6, 565.0, 750.0, 300, 400),
        ('2012', 'no2_24h', 7, 750.0, 940.0, 400, 500),
        ('2012', 'no2_1h', 1, 0.0, 100.0, 0, 50),
        ('2012', 'no2_1h', 2, 100.0, 200.0, 50, 100),
        ('2012', 'no2_1h', 3, 200.0, 700.0, 100, 150),
        ('2012', 'no2_1h', 4, 700.0, 1200.0, 150, 200),
        ('2012', 'no2_1h', 5, 1200.0, 2340.0, 200, 300),
        ('2012', 'no2_1h', 6, 2340.0, 3090.0, 300, 400),
        ('2012', 'no2_1h', 7, 3090.0, 3840.0, 400, 500),
        ('2012', 'co_24h', 1, 0.0, 2.0, 0, 50),
        ('2012', 'co_24h', 2, 2.0, 4.0, 50, 100),
        ('2012', 'co_24h', 3, 4.0, 14.0, 100, 150),
        ('2012', 'co_24h', 4, 14.0, 24.0, 150, 200),
        ('2012', 'co_24h', 5, 24.0, 36.0, 200, 300),
        ('2012', 'co_24h', 6, 36.0, 48.0, 300, 400),
        ('2012', 'co_24h', 7, 48.0, 60.0, 400, 500),
        ('2012', 'co_1h', 1, 0.0, 5.0, 0, 50),
        ('2012', 'co_1h', 2, 5.0, 10.0, 50, 100),
        ('2012', 'co_1h', 3, 10.0, 35.0, 100, 150),
        ('2012', 'co_1h', 4, 35.0, 60.0, 150, 200),
        ('2012', 'co_1h', 5, 60.0, 90.0, 200, 300),
        ('2012', 'co_1h', 6, 90.0, 120.0, 300, 400),
        ('2012', 'co_1h', 7, 120.0, 150.0, 400, 500),
        ('2012', 'o3_1h', 1, 0.0, 160.0, 0, 50),
        ('2012', 'o3_1h', 2, 160.0, 200.0, 50, 100),
        ('2012', 'o3_1h', 3, 200.0, 300.0, 100, 150),
        ('2012', 'o3_1h', 4, 300.0, 400.0, 150, 200),
        ('2012', 'o3_1h', 5, 400.0, 800.0, 200, 300),
        ('2012', 'o3_1h', 6, 800.0, 1000.0, 300, 400),
        ('2012', 'o3_1h', 7, 1000.0, 1200.0, 400, 500),
        ('2012', 'o3_8h', 1, 0.0, 100.0, 0, 50),
        ('2012', 'o3_8h', 2, 100.0, 160.0, 50, 100),
        ('2012', 'o3_8h', 3, 160.0, 215.0, 100, 150),
        ('2012', 'o3_8h', 4, 215.0, 265.0, 150, 200),
        ('2012', 'o3_8h', 5, 265.0, 800.0, 200, 300),
        ('2012', 'pm10_24h', 1, 0.0, 50.0, 0, 50),
        ('2012', 'pm10_24h', 2, 50.0, 150.0, 50, 100),
        ('2012', 'pm10_24h', 3, 150.0, 250.0, 100, 150),
        ('2012', 'pm10_24h', 4, 250.0, 350.0, 150, 200),
        ('2012', 'pm10_24h', 5, 350.0, 420.0, 200, 300),
        ('2012', 'pm10_24h', 6, 420.0, 500.0, 300, 400),
        ('2012', 'pm10_24h', 7, 500.0, 600.0, 400, 500),
        ('2012', 'pm25_24h', 1, 0.0, 35.0, 0, 50),
        ('2012', 'pm25_24h', 2, 35.0, 75.0, 50, 100),
        ('2012', 'pm25_24h', 3, 75.0, 115.0, 100, 150),
        ('2012', 'pm25_24h', 4, 115.0, 150.0, 150, 200),
        ('2012', 'pm25_24h', 5, 150.0, 250.0, 200, 300),
        ('2012', 'pm25_24h', 6, 250.0, 350.0, 300, 400),
        ('2012', 'pm25_24h', 7, 350.0, 500.0, 400, 500),
        ('2026', 'so2_24h', 1, 0.0, 50.0, 0, 50),
        ('2026', 'so2_24h', 2, 50.0, 150.0, 50, 100),
        ('2026', 'so2_24h', 3, 150.0, 475.0, 100, 150),
        ('2026', 'so2_24h', 4, 475.0, 800.0, 150, 200),
        ('2026', 'so2_24h', 5, 800.0, 1600.0, 200, 300),
        ('2026', 'so2_24h', 6, 1600.0, 2100.0, 300, 400),
        ('2026', 'so2_24h', 7, 2100.0, 2620.0, 400, 500),
        ('2026', 'so2_1h', 1, 0.0, 150.0, 0, 50),
        ('2026', 'so2_1h', 2, 150.0, 500.0, 50, 100),
        ('2026', 'so2_1h', 3, 500.0, 650.0, 100, 150),
        ('2026', 'so2_1h', 4, 650.0, 800.0, 150, 200),
        ('2026', 'no2_24h', 1, 0.0, 40.0, 0, 50),
        ('2026', 'no2_24h', 2, 40.0, 80.0, 50, 100),
        ('2026', 'no2_24h', 3, 80.0, 180.0, 100, 150),
        ('2026', 'no2_24h', 4, 180.0, 280.0, 150, 200),
        ('2026', 'no2_24h', 5, 280.0, 565.0, 200, 300),
        ('2026', 'no2_24h', 6, 565.0, 750.0, 300, 400),
        ('2026', 'no2_24h', 7, 750.0, 940.0, 400, 500),
        ('2026', 'no2_1h', 1, 0.0, 100.0, 0, 50),
        ('2026', 'no2_1h', 2, 100.0, 200.0, 50, 100),
        ('2026', 'no2_1h', 3, 200.0, 700.0, 100, 150),
        ('2026', 'no2_1h', 4, 700.0, 1200.0, 150, 200),
        ('2026', 'no2_1h', 5, 1200.0, 2340.0, 200, 300),
        ('2026', 'no2_1h', 6, 2340.0, 3090.0, 300, 400),
        ('2026', 'no2_1h', 7, 3090.0, 3840.0, 400, 500),
        ('2026', 'co_24h', 1, 0.0, 2.0, 0, 50),
        ('2026', 'co_24h', 2, 2.0, 4.0, 50, 100),
        ('2026', 'co_24h', 3, 4.0, 14.0, 100, 150),
        ('2026', 'co_24h', 4, 14.0, 24.0, 150, 200),
        ('2026', 'co_24h', 5, 24.0, 36.0, 200, 300),
        ('2026', 'co_24h', 6, 36.0, 48.0, 300, 400),
        ('2026', 'co_24h', 7, 48.0, 60.0, 400, 500),
        ('2026', 'co_1h', 1, 0.0, 5.0, 0, 50),
        ('2026', 'co_1h', 2, 5.0, 10.0, 50, 100),
        ('2026', 'co_1h', 3, 10.0, 35.0, 100, 150),
        ('2026', 'co_1h', 4, 35.0, 60.0, 150, 200),
        ('2026', 'co_1h', 5, 60.0, 90.0, 200, 300),
        ('2026', 'co_1h', 6, 90.0, 120.0, 300, 400),
        ('2026', 'co_1h', 7, 120.0, 150.0, 400, 500),
        ('2026', 'o3_1h', 1, 0.0, 160.0, 0, 50),
        ('2026', 'o3_1h', 2, 160.0, 200.0, 50, 100),
        ('2026', 'o3_1h', 3, 200.0, 300.0, 100, 150),
        ('2026', 'o3_1h', 4, 300.0, 400.0, 150, 200),
        ('2026', 'o3_1h', 5, 400.0, 800.0, 200, 300),
        ('2026', 'o3_1h', 6, 800.0, 1000.0, 300, 400),
        ('2026', 'o3_1h', 7, 1000.0, 1200.0, 400, 500),
        ('2026', 'o3_8h', 1, 0.0, 100.0, 0, 50),
        ('2026', 'o3_8h', 2, 100.0, 160.0, 50, 100),
        ('2026', 'o3_8h', 3, 160.0, 215.0, 100, 150),
        ('2026', 'o3_8h', 4, 215.0, 265.0, 150, 200),
        ('2026', 'o3_8h', 5, 265.0, 800.0, 200, 300),
        ('2026', 'pm10_24h', 1, 0.0, 50.0, 0, 50),
        ('2026', 'pm10_24h', 2, 50.0, 120.0, 50, 100),
        ('2026', 'pm10_24h', 3, 120.0, 250.0, 100, 150),
        ('2026', 'pm10_24h', 4, 250.0, 350.0, 150, 200),
        ('2026', 'pm10_24h', 5, 350.0, 420.0, 200, 300),
        ('2026', 'pm10_24h', 6, 420.0, 500.0, 300, 400),
        ('2026', 'pm10_24h', 7, 500.0, 600.0, 400, 500),
        ('2026', 'pm25_24h', 1, 0.0, 35.0, 0, 50),
        ('2026', 'pm25_24h', 2, 35.0, 60.0, 50, 100),
        ('2026', 'pm25_24h', 3, 60.0, 115.0, 100, 150),
        ('2026', 'pm25_24h', 4, 115.0, 150.0, 150, 200),
        ('2026', 'pm25_24h', 5, 150.0, 250.0, 200, 300),
        ('2026', 'pm25_24h', 6, 250.0, 350.0, 300, 400),
        ('2026', 'pm25_24h', 7, 350.0, 500.0, 400, 500)
    ) AS t(version, col, seg, bp_lo, bp_hi, iaqi_lo, iaqi_hi);

-- aqi_daily_report(): the inputs of each version's daily report in report order, with the
-- local days the version rates ([valid_from, valid_until), nulls open), the name primary
-- pollutants use, the input rounding (decimals, half-even; NULL: none), the last breakpoint
-- and the IAQI above it (NULL: the IAQI of fallback_param's column instead).
CREATE MACRO aqi_daily_report() AS TABLE
    SELECT version, standard, valid_from, valid_until, ord, param, col, pollutant, decimals,
           top_bp::DOUBLE AS top_bp, above_top_iaqi::DOUBLE AS above_top_iaqi, fallback_param
    FROM (VALUES
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 1, 'so2', 'so2_24h', 'so2', NULL, 2620.0, 500, NULL),
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 2, 'no2', 'no2_24h', 'no2', NULL, 940.0, 500, NULL),
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 3, 'co', 'co_24h', 'co', NULL, 60.0, 500, NULL),
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 4, 'pm10', 'pm10_24h', 'pm10', NULL, 600.0, 500, NULL),
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 5, 'pm25', 'pm25_24h', 'pm25', NULL, 500.0, 500, NULL),
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 6, 'o3_1h_max', 'o3_1h', 'o3_1h', NULL, 1200.0, 500, NULL),
        ('2012', 'HJ 633-2012', NULL, DATE '2026-03-01', 7, 'o3_8h_max', 'o3_8h', 'o3_8h', NULL, 800.0, NULL, 'o3_1h_max'),
        ('2026', 'HJ 633-2026', DATE '2026-03-01', NULL, 1, 'so2', 'so2_24h', 'so2', 0, 2620.0, 500, NULL),
        ('2026', 'HJ 633-2026', DATE '2026-03-01', NULL, 2, 'no2', 'no2_24h', 'no2', 0, 940.0, 500, NULL),
        ('2026', 'HJ 633-2026', DATE '2026-03-01', NULL, 3, 'co', 'co_24h', 'co', 1, 60.0, 500, NULL),
        ('2026', 'HJ 633-2026', DATE '2026-03-01', NULL, 4, 'pm10', 'pm10_24h', 'pm10', 0, 600.0, 500, NULL),
        ('2026', 'HJ 633-2026', DATE '2026-03-01', NULL, 5, 'pm25', 'pm25_24h', 'pm25', 0, 500.0, 500, NULL),
        ('2026', 'HJ 633-2026', DATE '2026-03-01', NULL, 6, 'o3_8h_max', 'o3_8h', 'o3_8h', 0, 800.0, 300, NULL)
    ) AS t(version, standard, valid_from, valid_until, ord, param, col, pollutant, decimals,
           top_bp, above_top_iaqi, fallback_param);

-- aqi_categories(): the six HJ 633 levels (the same in both versions).
CREATE MACRO aqi_categories() AS TABLE
    SELECT * FROM (VALUES
        (1, 50, 'Excellent', '优', '#00E400'),
        (2, 100, 'Good', '良', '#FFFF00'),
        (3, 150, 'Lightly polluted', '轻度污染', '#FF7E00'),
        (4, 200, 'Moderately polluted', '中度污染', '#FF0000'),
        (5, 300, 'Heavily polluted', '重度污染', '#99004C'),
        (6, 500, 'Severely polluted', '严重污染', '#7E0023')
    ) AS t(level, aqi_max, category, category_zh, color);

-- city_aqi_daily(first_day, last_day): one row per local day with a city AQI: the standard
-- applied, AQI, level, category, primary pollutants (IAQI = AQI, when AQI > 50), the IAQI
-- of each city mean (concentration as the standard rounds it), the assessment stations
-- averaged, and the unrounded city means with the stations each averages.
CREATE MACRO city_aqi_daily(d0, d1) AS TABLE
    WITH sites AS (
        SELECT station FROM stations
        WHERE is_current IS NOT false AND NOT coalesce(background, false)
          AND type IN ('national', 'pm_component', 'voc', 'ghg')
    ),
    obs AS (  -- valid daily values of the inputs of the version in force on the day
        SELECT d.date, d.station, d.value, r.*
        FROM daily AS d
        JOIN aqi_daily_report() AS r
          ON r.param = d.param
         AND (r.valid_from IS NULL OR d.date >= r.valid_from)
         AND (r.valid_until IS NULL OR d.date < r.valid_until)
        WHERE d.valid AND d.value IS NOT NULL AND d.date BETWEEN d0 AND d1
          AND d.station IN (SELECT station FROM sites)
    ),
    means AS (
        SELECT date, version, standard, ord, param, col, pollutant, decimals, top_bp,
               above_top_iaqi, fallback_param, avg(value) AS mean, count(DISTINCT station) AS n
        FROM obs
        GROUP BY ALL
    ),
    usable AS (  -- NaN and negative means have no IAQI (transforms.aqi)
        SELECT *, CASE WHEN NOT isnan(mean) AND mean >= 0 THEN mean END AS c,
               pow(10.0, decimals) AS scale
        FROM means
    ),
    rounded AS (  -- GB/T 8170 half-even on the decimal value, as _round_half_even_array
        SELECT *, CASE
            WHEN c IS NULL OR decimals IS NULL THEN c
            WHEN c < (floor(c * scale) + 0.5) / scale THEN floor(c * scale) / scale
            WHEN c > (floor(c * scale) + 0.5) / scale THEN (floor(c * scale) + 1) / scale
            ELSE (floor(c * scale) + fmod(floor(c * scale), 2)) / scale
        END AS conc
        FROM usable
    ),
    plain AS (  -- HJ 633 eq. 1 on the first segment whose bp_hi >= conc; above the top: the rule
        SELECT r.*, CASE
            WHEN r.conc IS NULL THEN NULL
            WHEN r.conc > r.top_bp THEN r.above_top_iaqi
            ELSE (SELECT ceil(round((b.iaqi_hi - b.iaqi_lo) / (b.bp_hi - b.bp_lo)
                                    * (r.conc - b.bp_lo) + b.iaqi_lo, 6))
                  FROM aqi_breakpoints() AS b
                  WHERE b.version = r.version AND b.col = r.col AND r.conc <= b.bp_hi
                  ORDER BY b.seg
                  LIMIT 1)
        END AS plain_iaqi
        FROM rounded AS r
    ),
    scored AS (  -- a fallback rule (2012: O3 8-h above 800) takes the other column's IAQI
        SELECT p.*, (CASE
            WHEN p.conc > p.top_bp AND p.fallback_param IS NOT NULL THEN f.plain_iaqi
            ELSE p.plain_iaqi
        END)::INTEGER AS iaqi
        FROM plain AS p
        LEFT JOIN plain AS f ON f.date = p.date AND f.param = p.fallback_param
    ),
    days AS (
        SELECT date, any_value(standard) AS standard, max(iaqi) AS aqi,
               list({'pollutant': param, 'concentration': conc, 'iaqi': iaqi} ORDER BY ord)
                   FILTER (WHERE conc IS NOT NULL) AS iaqi,
               list({'pollutant': param, 'value': mean, 'stations': n::INTEGER} ORDER BY ord)
                   AS means
        FROM scored
        GROUP BY date
    ),
    counts AS (
        SELECT date, count(DISTINCT station)::INTEGER AS stations FROM obs GROUP BY date
    ),
    prim AS (
        SELECT s.date, list(s.pollutant ORDER BY s.ord) AS primary_pollutants
        FROM scored AS s
        JOIN days AS d USING (date)
        WHERE s.iaqi = d.aqi AND d.aqi > 50
        GROUP BY s.date
    ),
    levels AS (
        SELECT d.date, coalesce(
            (SELECT min(level) FROM aqi_categories() WHERE d.aqi <= aqi_max),
            (SELECT max(level) FROM aqi_categories())
        ) AS level
        FROM days AS d
        WHERE d.aqi IS NOT NULL
    )
    SELECT d.date, d.standard, d.aqi::INTEGER AS aqi, c.level::TINYINT AS level, c.category,
           c.category_zh, c.color,
           coalesce(p.primary_pollutants, []::VARCHAR[]) AS primary_pollutants, d.iaqi,
           n.stations, d.means
    FROM days AS d
    JOIN levels AS l USING (date)
    JOIN aqi_categories() AS c ON c.level = l.level
    JOIN counts AS n USING (date)
    LEFT JOIN prim AS p USING (date)
    ORDER BY d.date;
