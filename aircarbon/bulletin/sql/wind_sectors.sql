-- Concentration of $param at $station by 16-point wind sector in (t0, t1] (wind_sectors macro),
-- with the conditional probability function at quantile $pct (cpf macro; catalog [cpf]).
SELECT w.sector_index, w.sector, w.hours, w.mean, w.max, c.cpf
FROM wind_sectors($station, $param, $t0, $t1) AS w
LEFT JOIN cpf($station, $param, $pct, $t0, $t1) AS c USING (sector_index)
ORDER BY w.sector_index;
