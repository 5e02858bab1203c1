-- The carbon indicators of $station on $day side by side (carbon_series macro).
SELECT * FROM carbon_series($station, $day, $day);
