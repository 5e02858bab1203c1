-- The daily values (valid or not) of the AQI inputs ($params) at the city-assessment stations
-- ($stations) from $d0 to $d1: transforms.city_aqi.city_aqi makes the city AQI of them.
SELECT station, param, date, value, valid
FROM daily
WHERE date BETWEEN $d0 AND $d1
  AND list_contains($stations, station) AND list_contains($params, param)
ORDER BY date, station, param;
