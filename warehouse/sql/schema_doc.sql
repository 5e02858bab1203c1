-- Every table and column of the lake with its comment: the source of docs/warehouse.md.
SELECT t.table_name, t.comment AS table_comment, c.column_name, c.data_type,
       c.is_nullable, c.comment AS column_comment
FROM duckdb_tables() AS t
JOIN duckdb_columns() AS c USING (database_name, schema_name, table_name)
WHERE t.database_name = current_database() AND t.schema_name = 'main'
ORDER BY t.table_name, c.column_index;
