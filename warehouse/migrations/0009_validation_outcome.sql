-- 0009_validation_outcome: say whether a validation passed, failed or was skipped.
--
-- Why: `success` alone called an interval with no input "passed" (GX validated an empty
-- frame), so a day without data looked validated in the bulletin. An interval without input
-- is now recorded as no_data with outcome 'skipped' and success false; nothing is validated.

ALTER TABLE validation_runs ADD COLUMN outcome VARCHAR;
UPDATE validation_runs SET outcome = CASE WHEN success THEN 'passed' ELSE 'failed' END;
COMMENT ON COLUMN validation_runs.outcome IS 'passed, failed, or skipped (the interval had no input: no_data; success is false, nothing was validated).';
