-- 0015_forecast_six_pollutants: the forecast tables' comments name the six pollutants.
--
-- Why: the forecast now models every pollutant the AQI reads (PM2.5, O3 and NO2 in full; PM10,
-- SO2 and CO with lighter fits), so the forecast AQI of a dust, SO2 or CO day is no longer
-- understated (issue 20 item 2). The tables are unchanged; only what their comments promise
-- (and docs/warehouse.md, generated from them) was out of date: CO rows carry mg/m3.

COMMENT ON TABLE forecasts IS 'Forecasts issued at the end of a local day for the next 72 hours: hourly pm25, pm10, o3, no2, so2, co and the daily AQI (from all six), per station and city-wide (identity: issued_date, station, param, ts; loaded per issued_date).';
COMMENT ON COLUMN forecasts.param IS 'pm25, pm10, o3, no2, so2 or co (hourly means, in the catalog unit: µg/m³, CO mg/m³), or aqi for the daily AQI (HJ 633) of a local day.';
COMMENT ON COLUMN forecasts.value IS 'Point forecast (in unit: µg/m³, mg/m³ for CO, or the AQI for aqi rows).';
COMMENT ON COLUMN forecasts.unit IS 'Unit of value/lower/upper: ug/m3, mg/m3 (CO), or AQI.';
COMMENT ON COLUMN forecast_models.params IS 'Parameters with a model (pm25, o3, no2, pm10, so2, co; models stored before 0015: pm25, o3, no2).';
COMMENT ON COLUMN forecast_skill.param IS 'A forecast pollutant (pm25, o3, no2, pm10, so2, co: hourly values of the lead day) or aqi (daily AQI).';
