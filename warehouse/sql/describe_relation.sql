-- Columns of one table or view with their comments, for the shell's .schema command.
SELECT column_name, data_type, comment
FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $name
ORDER BY column_index;
