SELECT DISTINCT partition FROM load_log
WHERE table_name = $table_name AND list_contains($partitions, partition);
