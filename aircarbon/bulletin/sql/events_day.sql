-- Co-emission events that started on local day $day (events macro), with their likely class.
SELECT event_id, station, start_ts, end_ts, hours, anchor, anchor_unit, anchor_excess_mean,
       copollutants, sector, sector_share, ws_mean, dco_dco2, toluene_benzene, source_class,
       class_score
FROM events($day, $day)
ORDER BY start_ts;
