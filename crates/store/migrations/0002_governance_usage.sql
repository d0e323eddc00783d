-- Governance usage in each counter's current window (a budget's spend in nano-dollars, a rate
-- limit's requests or tokens), saved so that it survives a restart. Written from memory in the
-- background every few seconds and at shutdown, never on a request's path.
CREATE TABLE asbru_governance_usage (
    counter_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    used BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (counter_id, kind)
);
