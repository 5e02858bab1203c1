-- Forecast skill against persistence per parameter and lead time (forecast_skill of 0008).
SELECT param, lead_hours, rmse, persistence_rmse
FROM forecast_skill
ORDER BY param, lead_hours;
