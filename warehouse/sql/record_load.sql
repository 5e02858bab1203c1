INSERT INTO load_log (table_name, partition, rows, checksum, loaded_at, snapshot)
VALUES ($table_name, $partition, $rows, $checksum, now(), $snapshot);
