-- 0012_hourly_sorted: hourly's Parquet files hold one month each, rows ordered by station,
-- parameter and time.
--
-- Why: the analyst macros ask for one station over a period (wind_pairs → wind_sectors /
-- polar_bins / cpf, series), and hourly was stored in load order (day by day, every station
-- in every row group), so each such question read the whole table (26 M rows on a year x
-- 100 stations) to keep 1 % of it. Sorted files carry tight per-row-group min/max statistics
-- on station and param, so DuckDB skips the other stations' row groups; one file per month
-- keeps time-window questions (a day of the whole network, a bulletin) to the months they
-- name, which sorting by station alone would lose. DuckLake applies both when it writes
-- files: loads, ducklake_flush_inlined_data and ducklake_merge_adjacent_files
-- (warehouse.load.compact); files written earlier keep their layout until rewritten. The
-- macros' text and answers are unchanged, only where rows sit (docs/benchmarks.md, Queries).
ALTER TABLE hourly SET PARTITIONED BY (year(ts), month(ts));
ALTER TABLE hourly SET SORTED BY (station ASC, param ASC, ts ASC);
