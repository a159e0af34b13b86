-- PostgreSQL's migration of this name checks an order's references to the rows every order
-- of a flash sale shares at commit, so that they are not locked while it is in flight.
-- SQLite locks no rows (its writers take turns on the whole file) and checks them at once,
-- as before: nothing changes here.
SELECT 1;
