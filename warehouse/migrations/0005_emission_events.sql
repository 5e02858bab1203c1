-- 0005_emission_events: co-emission events found by source tracing (transforms/sources.py).

CREATE TABLE emission_events (
    event_id VARCHAR NOT NULL,
    station VARCHAR NOT NULL,
    start_ts TIMESTAMPTZ NOT NULL,
    end_ts TIMESTAMPTZ NOT NULL,
    hours UINTEGER,
    anchor VARCHAR,
    anchor_unit VARCHAR,
    anchor_excess_mean DOUBLE,
    anchor_excess_max DOUBLE,
    copollutants VARCHAR[],
    wd_mean DOUBLE,
    ws_mean DOUBLE,
    sector VARCHAR,
    sector_share DOUBLE,
    dco_dco2 DOUBLE,
    dch4_dco2 DOUBLE,
    so2_no2 DOUBLE,
    toluene_benzene DOUBLE,
    ipentane_npentane DOUBLE,
    alkene_share DOUBLE,
    alkyne_share DOUBLE,
    aromatic_share DOUBLE,
    k_pm25 DOUBLE,
    source_class VARCHAR,
    class_score DOUBLE,
    class_metrics UINTEGER
);
COMMENT ON TABLE emission_events IS 'Co-emission events: simultaneous excess of an anchor (CO2, or total VOC where CO2 is not measured) and co-pollutants for at least N hours, with wind, enhancement ratios and a likely source class (identity: event_id; loaded per local day of start_ts).';
COMMENT ON COLUMN emission_events.event_id IS 'Identity: station/start (UTC, YYYYMMDDTHHMMZ).';
COMMENT ON COLUMN emission_events.station IS 'Station where the event was observed.';
COMMENT ON COLUMN emission_events.start_ts IS 'Start of the first event hour, UTC.';
COMMENT ON COLUMN emission_events.end_ts IS 'End of the last event hour, UTC.';
COMMENT ON COLUMN emission_events.hours IS 'Hours in excess (merged one-hour gaps are inside start..end but not counted).';
COMMENT ON COLUMN emission_events.anchor IS 'The series whose excess defines the event: co2 or tvoc.';
COMMENT ON COLUMN emission_events.anchor_unit IS 'Unit of the anchor excess (ppm for co2, ppbv for tvoc).';
COMMENT ON COLUMN emission_events.anchor_excess_mean IS 'Mean excess of the anchor over its rolling background during the event.';
COMMENT ON COLUMN emission_events.anchor_excess_max IS 'Largest hourly excess of the anchor during the event.';
COMMENT ON COLUMN emission_events.copollutants IS 'Co-pollutants above their excess thresholds in at least one event hour.';
COMMENT ON COLUMN emission_events.wd_mean IS 'Vector-mean wind direction over the event hours, degrees from north.';
COMMENT ON COLUMN emission_events.ws_mean IS 'Mean wind speed over the event hours, m/s.';
COMMENT ON COLUMN emission_events.sector IS 'Dominant 16-point wind sector of the event hours (where the air came from).';
COMMENT ON COLUMN emission_events.sector_share IS 'Share of event hours in the dominant sector.';
COMMENT ON COLUMN emission_events.dco_dco2 IS 'ΔCO/ΔCO2 enhancement ratio, ppb/ppm (ratio of summed excesses).';
COMMENT ON COLUMN emission_events.dch4_dco2 IS 'ΔCH4/ΔCO2 enhancement ratio, ppb/ppm.';
COMMENT ON COLUMN emission_events.so2_no2 IS 'ΔSO2/ΔNO2 mass ratio of the excesses.';
COMMENT ON COLUMN emission_events.toluene_benzene IS 'Δtoluene/Δbenzene, ppbv/ppbv.';
COMMENT ON COLUMN emission_events.ipentane_npentane IS 'Δi-pentane/Δn-pentane, ppbv/ppbv.';
COMMENT ON COLUMN emission_events.alkene_share IS 'Alkene share of the NMHC excess (alkanes + alkenes + alkyne + aromatics).';
COMMENT ON COLUMN emission_events.alkyne_share IS 'Alkyne (acetylene) share of the NMHC excess.';
COMMENT ON COLUMN emission_events.aromatic_share IS 'Aromatic share of the NMHC excess.';
COMMENT ON COLUMN emission_events.k_pm25 IS 'ΔK+/ΔPM2.5 mass ratio (biomass-burning marker).';
COMMENT ON COLUMN emission_events.source_class IS 'Likely source class from the catalog fingerprints: vehicle, coal_combustion, industrial_solvent, petrochemical, biomass_burning or unclassified.';
COMMENT ON COLUMN emission_events.class_score IS 'Share of the class fingerprint metrics that fell in range.';
COMMENT ON COLUMN emission_events.class_metrics IS 'How many fingerprint metrics could be evaluated for the class.';

-- ofp_ranking(station, first_day, last_day): VOC species ranked by mean daily ozone-formation
-- potential (indicators ofp:<species>, MIR × mass concentration), with their share of the total.
CREATE MACRO ofp_ranking(st, d0, d1) AS TABLE
    WITH s AS (
        SELECT substr(indicator, 5) AS species, avg(value) AS ofp
        FROM indicators_daily
        WHERE station = st AND indicator LIKE 'ofp:%' AND valid AND date BETWEEN d0 AND d1
        GROUP BY 1
    )
    SELECT row_number() OVER (ORDER BY ofp DESC) AS rank, s.species, p.name_en, p.voc_group,
           ofp AS ofp_ug_m3, round(ofp / sum(ofp) OVER (), 4) AS share
    FROM s LEFT JOIN parameters AS p ON p.param = s.species
    ORDER BY rank;

-- carbon_series(station, first_day, last_day): daily carbon indicators side by side
-- (excesses over background, enhancement ratios, CO2-equivalent).
CREATE MACRO carbon_series(st, d0, d1) AS TABLE
    PIVOT (
        SELECT date, indicator, value FROM indicators_daily
        WHERE station = st AND date BETWEEN d0 AND d1 AND valid
          AND indicator IN ('co2_mean', 'ch4_mean', 'n2o_mean', 'co2_excess', 'ch4_excess', 'n2o_excess',
                            'dco_dco2', 'dch4_dco2', 'mce', 'co2e')
    ) ON indicator IN ('co2_mean', 'ch4_mean', 'n2o_mean', 'co2_excess', 'ch4_excess',
                       'n2o_excess', 'dco_dco2', 'dch4_dco2', 'mce', 'co2e')
    USING first(value)
    ORDER BY date;

-- events(first_day, last_day): co-emission events that started in the period, newest first.
CREATE MACRO events(d0, d1) AS TABLE
    SELECT e.*, s.name_en AS station_name
    FROM emission_events AS e LEFT JOIN stations AS s USING (station)
    WHERE (start_ts AT TIME ZONE 'Asia/Shanghai')::DATE BETWEEN d0 AND d1
    ORDER BY start_ts DESC;
