-- Theil–Sen / Mann–Kendall trend of the mean over all stations ('city') of $param's valid daily
-- values from $d0 to $d1 (trend_daily macro of 0004).
SELECT n, slope_per_day, slope_per_year, p_value FROM trend_daily('city', $param, $d0, $d1);
