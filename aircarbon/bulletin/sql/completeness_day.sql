-- Per station: mean and lowest hourly completeness over its measured parameters on $day
-- (the completeness macro of 0007), and how many parameter-days are valid.
SELECT station,
       avg(hourly_completeness) AS mean_completeness,
       min(hourly_completeness) AS min_completeness,
       arg_min(param, hourly_completeness) AS worst_param,
       count(*) AS params,
       sum(valid_days) AS valid_params
FROM completeness($day, $day)
GROUP BY station
ORDER BY station;
