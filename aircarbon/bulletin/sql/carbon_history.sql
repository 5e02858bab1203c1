-- City-mean daily CO2 and CH4 (mean over stations of valid daily means) from $d0 to $d1,
-- for the trend shown beside the plan's carbon targets.
SELECT date, param, avg(value) AS value, count(*) AS stations
FROM daily
WHERE valid AND param IN ('co2', 'ch4') AND date BETWEEN $d0 AND $d1
  AND list_contains($stations, station)
GROUP BY date, param
ORDER BY param, date;
