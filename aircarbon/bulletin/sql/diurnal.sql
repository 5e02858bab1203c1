-- Hourly means over $stations of each of $params in (t0, t1] (hour ends, UTC): the day's
-- diurnal profile.
SELECT param, ts, avg(value) AS value, count(*) AS stations
FROM hourly
WHERE valid AND ts > $t0 AND ts <= $t1
  AND list_contains($params, param) AND list_contains($stations, station)
GROUP BY param, ts
ORDER BY param, ts;
