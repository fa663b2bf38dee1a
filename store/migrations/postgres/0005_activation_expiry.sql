-- Activation codes expire. A pending terminal's code works until
-- activation_expires_at; codes issued before this column existed have none
-- and no longer work (the merchant issues a fresh one).
ALTER TABLE terminals ADD COLUMN activation_expires_at TIMESTAMPTZ;
