-- Where a person acted from: the connection's peer, or behind TRUSTED_PROXIES the client
-- they forwarded. NULL for a tool (the demo loader, the command line) and older entries.
ALTER TABLE audit_log ADD COLUMN client_addr TEXT;
