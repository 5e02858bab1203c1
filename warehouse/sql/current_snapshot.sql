-- Inside a transaction this is the snapshot the transaction started from.
SELECT id FROM ducklake_current_snapshot(current_database());
