-- The daily statistics of $day (means, O3 maxima), valid or not.
SELECT station, param, value, n, valid
FROM daily
WHERE date = $day;
