-- 0014_forecast_skill_ci: the skill's confidence interval next to the skill.
--
-- Why: a skill of +0.05 on a few weeks of issues may be luck; the backtest now reports a 95 %
-- interval (moving-block bootstrap over issue days in weekly blocks: one episode spans several
-- issues), and the bulletin and analysts should read it from the table, not only the docs.
-- Rows written before have null bounds. Also: skill >= 0 now reads "matches or beats
-- persistence" (the blend with persistence makes 0 the floor it aims at).

ALTER TABLE forecast_skill ADD COLUMN skill_low DOUBLE;
ALTER TABLE forecast_skill ADD COLUMN skill_high DOUBLE;
COMMENT ON COLUMN forecast_skill.skill_low IS 'Lower end of the 95 % confidence interval of skill: moving-block bootstrap over issue days (weekly blocks). Null in rows stored before 0014.';
COMMENT ON COLUMN forecast_skill.skill_high IS 'Upper end of the 95 % confidence interval of skill.';
