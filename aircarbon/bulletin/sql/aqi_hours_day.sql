-- Per station: the fewest valid hours on $day among the AQI pollutants it reported ($params,
-- hourly codes), out of how many, and which pollutant (completeness macro): below the daily
-- minimum that pollutant has no daily value, and a station left with none has no AQI.
SELECT station,
       min(valid_hours) AS valid_hours,
       max(expected_hours) AS expected_hours,
       arg_min(param, valid_hours) AS short_param
FROM completeness($day, $day)
WHERE list_contains($params, param)
GROUP BY station
ORDER BY station;
