-- The recorded skill of the daily AQI forecast one day ahead (forecast_skill of 0008, written
-- by the latest backtest or a new model's hold-out): 1 - RMSE / RMSE of persistence.
SELECT coalesce(skill, 1 - rmse / nullif(persistence_rmse, 0)) AS skill
FROM forecast_skill
WHERE param = 'aqi' AND lead_hours = 24
  AND coalesce(skill, 1 - rmse / nullif(persistence_rmse, 0)) IS NOT NULL
LIMIT 1;
