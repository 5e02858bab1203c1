-- Dead-lettered messages of the day, by reason: those received on the UTC day $day (the
-- partition the daily step loads from dead_letter/date=D/, warehouse.load_dead_letters).
SELECT reason, count(*) AS messages
FROM dead_letter
WHERE received_at >= $t0 AND received_at < $t1
GROUP BY reason
ORDER BY messages DESC, reason;
