-- 0006_aqi_other_standard: the same days rated under the other HJ 633 version.
--
-- HJ 633-2026 replaced HJ 633-2012 on 2026-03-01 (tighter PM breakpoints, new SO2/O3 rules).
-- aqi_daily holds the official rating (the version in force on the day); this table holds
-- every version that was NOT in force, so comparing years across the change is one query.

CREATE TABLE aqi_daily_other (
    station VARCHAR NOT NULL,
    date DATE NOT NULL,
    aqi INTEGER,
    level TINYINT,
    category VARCHAR,
    category_zh VARCHAR,
    color VARCHAR,
    primary_pollutants VARCHAR[],
    iaqi STRUCT(pollutant VARCHAR, concentration DOUBLE, iaqi INTEGER)[],
    standard VARCHAR NOT NULL
);
COMMENT ON TABLE aqi_daily_other IS 'Daily AQI per station under the HJ 633 version(s) NOT in force on the day (identity: station, date, standard); the official rating is aqi_daily.';
COMMENT ON COLUMN aqi_daily_other.station IS 'Station id (see stations).';
COMMENT ON COLUMN aqi_daily_other.date IS 'Local calendar day.';
COMMENT ON COLUMN aqi_daily_other.aqi IS 'Air quality index under this standard.';
COMMENT ON COLUMN aqi_daily_other.level IS 'AQI level 1 (good) to 6 (severe).';
COMMENT ON COLUMN aqi_daily_other.category IS 'AQI category in English.';
COMMENT ON COLUMN aqi_daily_other.category_zh IS 'AQI category in Chinese.';
COMMENT ON COLUMN aqi_daily_other.color IS 'Display colour of the level (hex RGB).';
COMMENT ON COLUMN aqi_daily_other.primary_pollutants IS 'Pollutants whose IAQI equals the AQI (empty when AQI <= 50).';
COMMENT ON COLUMN aqi_daily_other.iaqi IS 'Per pollutant: code, concentration (rounded as this standard says) and IAQI.';
COMMENT ON COLUMN aqi_daily_other.standard IS 'Standard applied: HJ 633-2012 or HJ 633-2026 (the one not in force on the day).';

-- aqi_both(first_day, last_day): each station-day under both versions side by side.
CREATE MACRO aqi_both(d0, d1) AS TABLE
    SELECT a.station, a.date,
           a.standard AS official_standard, a.aqi AS official_aqi, a.category AS official_category,
           o.standard AS other_standard, o.aqi AS other_aqi, o.category AS other_category,
           o.aqi - a.aqi AS difference
    FROM aqi_daily AS a
    LEFT JOIN aqi_daily_other AS o USING (station, date)
    WHERE a.date BETWEEN d0 AND d1
    ORDER BY a.date, a.station;
