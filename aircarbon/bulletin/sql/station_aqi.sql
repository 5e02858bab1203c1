-- The official daily AQI of every station on $day (aqi_daily), with the pollutants whose
-- daily IAQI exceeds 100 (above the Grade II daily limit of the standard in force).
SELECT station, aqi, level, primary_pollutants, standard,
       list_transform(list_filter(iaqi, x -> x.iaqi > 100), x -> x.pollutant) AS exceedances
FROM aqi_daily
WHERE date = $day
ORDER BY aqi DESC NULLS LAST, station;
