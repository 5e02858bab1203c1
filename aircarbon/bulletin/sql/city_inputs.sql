-- City daily concentrations: per local day and AQI input, the mean of the valid daily values
-- of the city-assessment stations ($stations), and how many stations it averages.
SELECT date, param, avg(value) AS value, count(*) AS stations
FROM daily
WHERE valid AND date BETWEEN $d0 AND $d1
  AND list_contains($stations, station) AND list_contains($params, param)
GROUP BY date, param
ORDER BY date, param;
