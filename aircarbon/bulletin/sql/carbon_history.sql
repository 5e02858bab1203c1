-- Network-mean daily CO2 and CH4 (mean over all stations of the valid daily means, as
-- trend_daily('city', …) averages them) from $d0 to $d1: the first and last values shown
-- beside the trend and the plan's carbon targets.
SELECT date, param, avg(value) AS value, count(*) AS stations
FROM daily
WHERE valid AND param IN ('co2', 'ch4') AND date BETWEEN $d0 AND $d1
GROUP BY date, param
ORDER BY param, date;
