-- Warnings issued on $day (warnings of 0008).
SELECT station, kind, level, start_date, end_date, max_aqi, reason, reason_zh
FROM warnings
WHERE issued_date = $day
ORDER BY start_date, station;
