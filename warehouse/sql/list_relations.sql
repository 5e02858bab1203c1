-- Tables, views and table macros of the lake, for the shell's .tables command.
SELECT table_name AS name, 'table' AS kind, comment FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main'
UNION ALL
SELECT view_name, 'view', comment FROM duckdb_views()
WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal
UNION ALL
SELECT DISTINCT function_name, 'macro', NULL FROM duckdb_functions()
WHERE database_name = current_database() AND schema_name = 'main'
  AND function_type = 'table_macro'
ORDER BY kind, name;
