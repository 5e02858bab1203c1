-- VOC species of $station ranked by ozone-formation potential on $day (ofp_ranking macro).
SELECT rank, species, voc_group, ofp_ug_m3, share
FROM ofp_ranking($station, $day, $day)
ORDER BY rank
LIMIT $top;
