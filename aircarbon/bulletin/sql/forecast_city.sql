-- The city-wide daily AQI forecast issued on $day (forecasts of 0008), one row per local day.
SELECT date, max(lead_hours) AS lead_hours, any_value(value) AS value, any_value(lower) AS lower,
       any_value(upper) AS upper, any_value(category) AS category,
       any_value(category_zh) AS category_zh
FROM forecasts
WHERE issued_date = $day AND station = 'city' AND param = 'aqi' AND date > $day
GROUP BY date
ORDER BY date
LIMIT 3;
