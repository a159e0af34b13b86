-- A lot is recorded once per form: a team member's double tap on a phone in a village, or
-- an API client's retry, finds the lot its first submission recorded (and the household is
-- credited once). The key is the form's (or the API's Idempotency-Key), bound to the user
-- who sent it and hashed; lots recorded before have none.
ALTER TABLE stock_lots ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX stock_lots_idempotency_key ON stock_lots(idempotency_key);
