-- Every indicator row of $day, per station and city-wide ('city').
SELECT station, indicator, value, unit, n, valid
FROM indicators_daily
WHERE date = $day;
