-- Columns of the lake's tables named in $tables (the optional forecast tables of 0008).
SELECT table_name, column_name
FROM information_schema.columns
WHERE table_catalog = 'aircarbon' AND list_contains($tables, table_name);
