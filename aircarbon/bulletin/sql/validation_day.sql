-- Great Expectations runs that covered the day: the daily batch ($day_text), a batch of days
-- containing it ('D1..D2', as `process daily --until` names a back-fill batch), and the hourly
-- batches overlapping (t0, t1] UTC, named 'START..END' (batched hours, up to a month in a
-- back-fill), 'END' (one hour, as the hourly DAG and `process hourly --hour` name it, e.g.
-- 2026-12-03T05:00Z) or 'hour=END' (older runs).
WITH runs AS (
    SELECT suite, success, severity_max, evaluated, unsuccessful,
           try_strptime(split_part(batch, '..', 1), '%Y-%m-%dT%H:%MZ') AS b0,
           try_strptime(split_part(batch, '..', 2), '%Y-%m-%dT%H:%MZ') AS b1,
           try_strptime(replace(batch, 'hour=', ''), '%Y-%m-%dT%H:%MZ') AS h1,
           try_cast(split_part(batch, '..', 1) AS DATE) AS d0,
           try_cast(split_part(batch, '..', 2) AS DATE) AS d1,
           batch
    FROM validation_runs
)
SELECT suite, count(*) AS runs, count(*) FILTER (WHERE success) AS passed,
       sum(unsuccessful) AS failed_expectations, max(severity_max) AS severity_max
FROM runs
WHERE batch = $day_text
   OR (b0 IS NOT NULL AND b1 IS NOT NULL AND b0 < $t1 AND b1 > $t0)
   OR (b1 IS NULL AND h1 IS NOT NULL AND h1 > $t0 AND h1 <= $t1)
   OR (b0 IS NULL AND d0 IS NOT NULL AND d1 IS NOT NULL
       AND d0 <= CAST($day_text AS DATE) AND d1 >= CAST($day_text AS DATE))
GROUP BY suite
ORDER BY suite;
