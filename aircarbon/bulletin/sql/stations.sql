-- The network's stations (names in both languages, kind, background flag).
SELECT station, name_zh, name_en, type, coalesce(background, false) AS background, params
FROM stations
WHERE is_current IS NOT false  -- each station's latest version (migration 0011)
ORDER BY station;
