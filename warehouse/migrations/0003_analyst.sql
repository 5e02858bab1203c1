-- 0003_analyst: views and table macros for everyday questions.
--
-- Views take COMMENT ON VIEW in DuckLake; macros cannot carry a comment ("Unsupported catalog
-- type for SET COMMENT"), so they are documented here and in docs/warehouse.md.

CREATE VIEW latest_aqi AS
SELECT station, ts, aqi, level, category, category_zh, primary_pollutants
FROM aqi_hourly
QUALIFY row_number() OVER (PARTITION BY station ORDER BY ts DESC) = 1;
COMMENT ON VIEW latest_aqi IS 'The most recent hourly AQI of each station.';

CREATE VIEW daily_named AS
SELECT d.station, s.name_en AS station_name, d.param, p.name_en AS param_name, d.date, d.value,
       p.unit, d.n, d.valid
FROM daily AS d
LEFT JOIN stations AS s USING (station)
LEFT JOIN parameters AS p USING (param);
COMMENT ON VIEW daily_named IS 'daily with station and parameter names and the unit (o3_*_max rows have no parameters match).';

-- series(station, param): the hourly series of one station and parameter, oldest first.
CREATE MACRO series(st, p) AS TABLE
    SELECT ts, value, n, minutes, valid
    FROM hourly
    WHERE station = st AND param = p
    ORDER BY ts;

-- exceedance_days(param, threshold): per station, valid days whose daily value exceeds threshold.
CREATE MACRO exceedance_days(p, threshold) AS TABLE
    SELECT station, count(*) AS days, min(date) AS first_day, max(date) AS last_day
    FROM daily
    WHERE param = p AND valid AND value > threshold
    GROUP BY station
    ORDER BY days DESC, station;
