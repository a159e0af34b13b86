DROP TABLE live_items;
DROP TABLE live_sessions;
