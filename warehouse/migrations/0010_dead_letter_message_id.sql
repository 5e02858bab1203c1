-- 0010_dead_letter_message_id: tie a message's dead-letter rows to its one stored payload.
--
-- Why: the dead-letter store keeps a payload once per message (a flood of refused readings
-- used to copy its payload onto every row, ~700x memory amplification); the message's other
-- rows carry a null payload and the same message_id. Without the id in the lake, an analyst
-- could not find the payload of a per-reading row. Rows loaded from files written before
-- the change have a null message_id and their own payload.

ALTER TABLE dead_letter ADD COLUMN message_id VARCHAR;
COMMENT ON COLUMN dead_letter.message_id IS 'Id shared by every row of one message (hash of received time, topic and payload); the payload is stored on one of them only: join on message_id to find it. Null for rows stored before payloads were kept once.';
COMMENT ON COLUMN dead_letter.payload IS 'The raw message bytes, truncated to the configured limit; stored on one row per message (see message_id), null on its other rows.';
