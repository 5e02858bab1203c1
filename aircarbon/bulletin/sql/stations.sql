-- The network's stations (names in both languages, kind, background flag).
SELECT station, name_zh, name_en, type, coalesce(background, false) AS background, params
FROM stations
ORDER BY station;
