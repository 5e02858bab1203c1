-- 0001_core: dimension tables, clean readings, hourly/daily statistics, AQI, and the load log.
--
-- DuckLake has no PRIMARY KEY or UNIQUE constraints ("not supported in DuckLake"): the identity
-- of each table (named in its comment) is kept unique by the loaders, which replace a whole
-- partition (DELETE then INSERT in one transaction), and checked by the GX suites.
-- Times are TIMESTAMPTZ in UTC; `date` columns are local calendar days of the network.

CREATE TABLE stations (
    station VARCHAR NOT NULL,
    name_zh VARCHAR,
    name_en VARCHAR,
    type VARCHAR NOT NULL,
    lat DOUBLE,
    lon DOUBLE,
    mn VARCHAR,
    params VARCHAR[],
    instruments VARCHAR[],
    district VARCHAR,
    timezone VARCHAR,
    background BOOLEAN
);
COMMENT ON TABLE stations IS 'The monitoring stations of the network, from the station catalog (one row per station; identity: station). Replaced as a whole on every load.';
COMMENT ON COLUMN stations.station IS 'Station id, as in topics and in every fact table (join with USING (station)).';
COMMENT ON COLUMN stations.name_zh IS 'Station name in Chinese.';
COMMENT ON COLUMN stations.name_en IS 'Station name in English.';
COMMENT ON COLUMN stations.type IS 'Station kind: national, voc, ghg, pm_component, radiation, ecological or micro.';
COMMENT ON COLUMN stations.lat IS 'Latitude, decimal degrees (WGS 84).';
COMMENT ON COLUMN stations.lon IS 'Longitude, decimal degrees (WGS 84).';
COMMENT ON COLUMN stations.mn IS 'HJ 212 device code (MN) of the station data logger.';
COMMENT ON COLUMN stations.params IS 'Parameter codes the station measures.';
COMMENT ON COLUMN stations.instruments IS 'Instruments installed at the station.';
COMMENT ON COLUMN stations.district IS 'Administrative district of the site.';
COMMENT ON COLUMN stations.timezone IS 'IANA time zone of the site (local days are computed in it).';
COMMENT ON COLUMN stations.background IS 'True for a background site: its values are the baseline for co2_excess/ch4_excess.';

CREATE TABLE parameters (
    param VARCHAR NOT NULL,
    name_zh VARCHAR,
    name_en VARCHAR,
    param_group VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    accepted_units VARCHAR[],
    physical_min DOUBLE,
    physical_max DOUBLE,
    plausible_min DOUBLE,
    plausible_max DOUBLE,
    noise DOUBLE,
    hj212 VARCHAR,
    hj212_unit VARCHAR,
    molar_mass DOUBLE,
    cas VARCHAR,
    voc_group VARCHAR,
    pams BOOLEAN,
    mir DOUBLE,
    koh DOUBLE,
    gwp100 DOUBLE,
    source VARCHAR,
    range_source VARCHAR,
    mir_source VARCHAR,
    koh_source VARCHAR,
    gwp_source VARCHAR
);
COMMENT ON TABLE parameters IS 'The measurable parameters, from the parameter catalog (one row per parameter; identity: param). Replaced as a whole on every load.';
COMMENT ON COLUMN parameters.param IS 'Parameter code, as in messages and in every fact table (join with USING (param)).';
COMMENT ON COLUMN parameters.name_zh IS 'Parameter name in Chinese.';
COMMENT ON COLUMN parameters.name_en IS 'Parameter name in English.';
COMMENT ON COLUMN parameters.param_group IS 'Family: criteria, gas, voc, ghg, meteorology, pm_component, element, radiation or status.';
COMMENT ON COLUMN parameters.unit IS 'Canonical unit every stored value is in (µg/m³, mg/m³ for CO, ppm, ppb, ppbv, …).';
COMMENT ON COLUMN parameters.accepted_units IS 'Units a station may send (converted to the canonical unit on ingest).';
COMMENT ON COLUMN parameters.physical_min IS 'Lowest physically possible value, canonical unit.';
COMMENT ON COLUMN parameters.physical_max IS 'Highest physically possible value, canonical unit.';
COMMENT ON COLUMN parameters.plausible_min IS 'Lower bound of the QC plausibility range (below it: qc range).';
COMMENT ON COLUMN parameters.plausible_max IS 'Upper bound of the QC plausibility range (above it: qc range).';
COMMENT ON COLUMN parameters.noise IS 'Instrument noise, canonical unit: slightly negative values within it are kept.';
COMMENT ON COLUMN parameters.hj212 IS 'HJ 212-2017 pollutant code, if any.';
COMMENT ON COLUMN parameters.hj212_unit IS 'Unit HJ 212 packets carry the parameter in.';
COMMENT ON COLUMN parameters.molar_mass IS 'Molar mass, g/mol (ppb ↔ µg/m³ conversions, OFP).';
COMMENT ON COLUMN parameters.cas IS 'CAS registry number (VOC species).';
COMMENT ON COLUMN parameters.voc_group IS 'VOC class: alkane, alkene, alkyne, aromatic, oxygenated, halogenated, …';
COMMENT ON COLUMN parameters.pams IS 'True for the PAMS target species.';
COMMENT ON COLUMN parameters.mir IS 'Maximum incremental reactivity, g O3 / g VOC (Carter), for ofp_total.';
COMMENT ON COLUMN parameters.koh IS 'OH rate constant at 298 K, cm³ molecule⁻¹ s⁻¹, for oh_reactivity_total.';
COMMENT ON COLUMN parameters.gwp100 IS 'Global warming potential over 100 years (IPCC AR6), for co2e.';
COMMENT ON COLUMN parameters.source IS 'Where the parameter definition comes from (standard or method).';
COMMENT ON COLUMN parameters.range_source IS 'Source of the physical and plausible ranges.';
COMMENT ON COLUMN parameters.mir_source IS 'Source of the MIR value.';
COMMENT ON COLUMN parameters.koh_source IS 'Source of the kOH value.';
COMMENT ON COLUMN parameters.gwp_source IS 'Source of the GWP100 value.';

CREATE TABLE readings (
    station VARCHAR NOT NULL,
    param VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE,
    flag VARCHAR,
    period_s INTEGER,
    source VARCHAR,
    received_at TIMESTAMPTZ,
    revisions UINTEGER,
    qc VARCHAR[],
    valid BOOLEAN NOT NULL
);
COMMENT ON TABLE readings IS 'Clean readings with QC flags: QC marks, it never deletes (identity: station, param, ts). Loaded per hour (ts in (H-1h, H]).';
COMMENT ON COLUMN readings.station IS 'Station id (see stations).';
COMMENT ON COLUMN readings.param IS 'Parameter code (see parameters).';
COMMENT ON COLUMN readings.ts IS 'End of the averaging period, UTC.';
COMMENT ON COLUMN readings.value IS 'Value in the parameter''s canonical unit (see parameters.unit).';
COMMENT ON COLUMN readings.flag IS 'HJ 212 data flag sent by the station (N normal, M maintenance, C calibration, D fault, …).';
COMMENT ON COLUMN readings.period_s IS 'Averaging period in seconds (0: an instantaneous value).';
COMMENT ON COLUMN readings.source IS 'Wire format the reading arrived in: json or hj212.';
COMMENT ON COLUMN readings.received_at IS 'When the collector received the (latest) value, UTC.';
COMMENT ON COLUMN readings.revisions IS 'How many other values arrived for the same identity (0: never revised; the latest wins).';
COMMENT ON COLUMN readings.qc IS 'QC reason codes (station_flag, maintenance, range, negative, spike, flatline, rate_of_change, pm25_gt_pm10); empty: passed.';
COMMENT ON COLUMN readings.valid IS 'True when the reading may enter averages.';

CREATE TABLE hourly (
    station VARCHAR NOT NULL,
    param VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    value DOUBLE,
    n UINTEGER,
    minutes DOUBLE,
    valid BOOLEAN NOT NULL
);
COMMENT ON TABLE hourly IS 'Hourly means (wind direction: unit-vector mean) per station and parameter (identity: station, param, ts).';
COMMENT ON COLUMN hourly.station IS 'Station id (see stations).';
COMMENT ON COLUMN hourly.param IS 'Parameter code (see parameters).';
COMMENT ON COLUMN hourly.ts IS 'End of the hour, UTC: the mean of readings in (ts - 1 h, ts].';
COMMENT ON COLUMN hourly.value IS 'Hourly mean of the valid readings, canonical unit (null when none).';
COMMENT ON COLUMN hourly.n IS 'Number of valid readings averaged.';
COMMENT ON COLUMN hourly.minutes IS 'Minutes of the hour covered by valid readings (capped at 60).';
COMMENT ON COLUMN hourly.valid IS 'True when coverage meets the hourly minimum of GB 3095 / HJ 663.';

CREATE TABLE daily (
    station VARCHAR NOT NULL,
    param VARCHAR NOT NULL,
    date DATE NOT NULL,
    value DOUBLE,
    n UINTEGER,
    valid BOOLEAN NOT NULL
);
COMMENT ON TABLE daily IS 'Daily statistics per station and parameter; O3 daily maxima are the params o3_1h_max and o3_8h_max (identity: station, param, date).';
COMMENT ON COLUMN daily.station IS 'Station id (see stations).';
COMMENT ON COLUMN daily.param IS 'Parameter code, or o3_1h_max / o3_8h_max for the O3 daily maximum 1-hour and 8-hour means.';
COMMENT ON COLUMN daily.date IS 'Local calendar day (Asia/Shanghai by default): hours ending in (00:00, 24:00] local.';
COMMENT ON COLUMN daily.value IS 'Daily mean (or maximum, for o3_*_max) of the valid hours, canonical unit.';
COMMENT ON COLUMN daily.n IS 'Valid hours used (valid 8-hour windows for o3_8h_max).';
COMMENT ON COLUMN daily.valid IS 'True when the day meets the completeness minimum of GB 3095 Table 4.';

CREATE TABLE aqi_hourly (
    station VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    aqi INTEGER,
    level TINYINT,
    category VARCHAR,
    category_zh VARCHAR,
    color VARCHAR,
    primary_pollutants VARCHAR[],
    iaqi STRUCT(pollutant VARCHAR, concentration DOUBLE, iaqi INTEGER)[],
    standard VARCHAR
);
COMMENT ON TABLE aqi_hourly IS 'Hourly AQI per station (HJ 633) (identity: station, ts).';
COMMENT ON COLUMN aqi_hourly.station IS 'Station id (see stations).';
COMMENT ON COLUMN aqi_hourly.ts IS 'End of the hour, UTC.';
COMMENT ON COLUMN aqi_hourly.aqi IS 'Air quality index: the highest IAQI (null when no pollutant is valid).';
COMMENT ON COLUMN aqi_hourly.level IS 'AQI level 1 (good) to 6 (severe).';
COMMENT ON COLUMN aqi_hourly.category IS 'AQI category in English.';
COMMENT ON COLUMN aqi_hourly.category_zh IS 'AQI category in Chinese.';
COMMENT ON COLUMN aqi_hourly.color IS 'Display colour of the level (hex RGB).';
COMMENT ON COLUMN aqi_hourly.primary_pollutants IS 'Pollutants whose IAQI equals the AQI (empty when AQI <= 50).';
COMMENT ON COLUMN aqi_hourly.iaqi IS 'Per pollutant: code, concentration (rounded as the standard says) and IAQI.';
COMMENT ON COLUMN aqi_hourly.standard IS 'Standard applied: HJ 633-2012 or HJ 633-2026.';

CREATE TABLE aqi_daily (
    station VARCHAR NOT NULL,
    date DATE NOT NULL,
    aqi INTEGER,
    level TINYINT,
    category VARCHAR,
    category_zh VARCHAR,
    color VARCHAR,
    primary_pollutants VARCHAR[],
    iaqi STRUCT(pollutant VARCHAR, concentration DOUBLE, iaqi INTEGER)[],
    standard VARCHAR
);
COMMENT ON TABLE aqi_daily IS 'Daily AQI per station (HJ 633) (identity: station, date).';
COMMENT ON COLUMN aqi_daily.station IS 'Station id (see stations).';
COMMENT ON COLUMN aqi_daily.date IS 'Local calendar day.';
COMMENT ON COLUMN aqi_daily.aqi IS 'Air quality index: the highest IAQI (null when no pollutant is valid).';
COMMENT ON COLUMN aqi_daily.level IS 'AQI level 1 (good) to 6 (severe).';
COMMENT ON COLUMN aqi_daily.category IS 'AQI category in English.';
COMMENT ON COLUMN aqi_daily.category_zh IS 'AQI category in Chinese.';
COMMENT ON COLUMN aqi_daily.color IS 'Display colour of the level (hex RGB).';
COMMENT ON COLUMN aqi_daily.primary_pollutants IS 'Pollutants whose IAQI equals the AQI (empty when AQI <= 50).';
COMMENT ON COLUMN aqi_daily.iaqi IS 'Per pollutant: code, concentration (rounded as the standard says) and IAQI.';
COMMENT ON COLUMN aqi_daily.standard IS 'Standard applied: HJ 633-2012 or HJ 633-2026.';

CREATE TABLE load_log (
    table_name VARCHAR NOT NULL,
    partition VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    checksum VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    snapshot BIGINT
);
COMMENT ON TABLE load_log IS 'One row per partition load (a re-load appends a new row): proves idempotency, since re-loading a partition gives the same rows and checksum.';
COMMENT ON COLUMN load_log.table_name IS 'Warehouse table loaded.';
COMMENT ON COLUMN load_log.partition IS 'The partition replaced, e.g. ts=(2026-11-24 09:00:00+00, 2026-11-24 10:00:00+00] or date=2026-11-24.';
COMMENT ON COLUMN load_log.rows IS 'Rows in the partition after the load.';
COMMENT ON COLUMN load_log.checksum IS 'Order-independent content checksum of the partition after the load (sum of row hashes, hex).';
COMMENT ON COLUMN load_log.loaded_at IS 'When the load committed (transaction time), UTC.';
COMMENT ON COLUMN load_log.snapshot IS 'Lake snapshot the load started from: AT (VERSION => snapshot) shows the partition as it was before; the load itself is the next snapshot whose commit_message names it.';
