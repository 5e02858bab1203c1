-- The city-wide daily AQI forecast issued on $day (forecasts of 0008): one row per local day
-- after $day (the latest issue of the day when it was issued more than once), three days.
SELECT date, lead_hours, value, lower, upper, category, category_zh, method, model_version
FROM forecasts
WHERE issued_date = $day AND station = 'city' AND param = 'aqi' AND date > $day
QUALIFY row_number() OVER (PARTITION BY date ORDER BY issued_at DESC NULLS LAST, lead_hours) = 1
ORDER BY date
LIMIT 3;
