-- Forecast skill against persistence per parameter and lead time (forecast_skill of 0008);
-- whole-day leads only when the table has them (24, 48, 72 h), so the list stays short;
-- 21 = the six forecast pollutants and the AQI x 3 lead days (alphabetical, a limit of 12
-- cut PM2.5 once PM10/SO2/CO were forecast too).
WITH s AS (
    SELECT param, lead_hours, rmse, persistence_rmse FROM forecast_skill
    WHERE rmse IS NOT NULL AND persistence_rmse IS NOT NULL
)
SELECT * FROM s
WHERE lead_hours % 24 = 0 OR NOT EXISTS (SELECT 1 FROM s WHERE lead_hours % 24 = 0)
ORDER BY param, lead_hours
LIMIT 21;
