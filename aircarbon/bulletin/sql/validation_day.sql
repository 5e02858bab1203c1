-- Great Expectations runs of the day: the daily batch ($day_text) and the hourly batches
-- inside (t0, t1] UTC, named 'START..END' (batched hours), 'END' (one hour, as the hourly
-- DAG and `process hourly --hour` name it, e.g. 2026-12-03T05:00Z) or 'hour=END' (older runs).
WITH runs AS (
    SELECT suite, success, severity_max, evaluated, unsuccessful,
           try_strptime(split_part(batch, '..', 1), '%Y-%m-%dT%H:%MZ') AS b0,
           try_strptime(split_part(batch, '..', 2), '%Y-%m-%dT%H:%MZ') AS b1,
           try_strptime(replace(batch, 'hour=', ''), '%Y-%m-%dT%H:%MZ') AS h1,
           batch
    FROM validation_runs
)
SELECT suite, count(*) AS runs, count(*) FILTER (WHERE success) AS passed,
       sum(unsuccessful) AS failed_expectations, max(severity_max) AS severity_max
FROM runs
WHERE batch = $day_text
   OR (b0 IS NOT NULL AND b1 IS NOT NULL AND b0 >= $t0 AND b1 <= $t1)
   OR (b1 IS NULL AND h1 IS NOT NULL AND h1 > $t0 AND h1 <= $t1)
GROUP BY suite
ORDER BY suite;
