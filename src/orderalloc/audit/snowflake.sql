-- The orderalloc audit trail, Snowflake flavour (schema version 1).
-- {prefix} is SnowflakeAuditSink(table_prefix=...), ORDERALLOC_AUDIT by default.
--
-- Snowflake neither enforces PRIMARY KEY / UNIQUE nor has triggers, so:
-- * uniqueness of SEQ and EVENT_ID is kept by the sink (it locks {prefix}_HEAD, checks,
--   and inserts with WHERE NOT EXISTS), and verify() checks it;
-- * append-only is a matter of grants: give the writing role INSERT and SELECT on the
--   EVENT and EVENT_ACCOUNT tables and UPDATE on HEAD, nothing else. verify() catches
--   edits made by anyone with more.
-- PAYLOAD and ACCOUNT_IDS are VARCHAR, not VARIANT: the canonical text must come back
-- byte for byte for the hash to be recomputed.

CREATE TABLE IF NOT EXISTS {prefix}_EVENT (
    SEQ           NUMBER(38, 0) NOT NULL PRIMARY KEY,
    EVENT_ID      VARCHAR NOT NULL UNIQUE,
    ALLOCATION_ID VARCHAR NOT NULL,
    KIND          VARCHAR NOT NULL,
    OCCURRED_AT   VARCHAR NOT NULL,
    ACTOR         VARCHAR NOT NULL,
    PAYLOAD       VARCHAR NOT NULL,
    ACCOUNT_IDS   VARCHAR NOT NULL,
    SECURITY_ID   VARCHAR,
    ORDER_ID      VARCHAR,
    PREV_HASH     VARCHAR NOT NULL,
    HASH          VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS {prefix}_EVENT_ACCOUNT (
    ACCOUNT_ID VARCHAR NOT NULL,
    SEQ        NUMBER(38, 0) NOT NULL
);

CREATE TABLE IF NOT EXISTS {prefix}_HEAD (
    ID   NUMBER(1, 0) NOT NULL PRIMARY KEY,
    SEQ  NUMBER(38, 0) NOT NULL,
    HASH VARCHAR NOT NULL
);

INSERT INTO {prefix}_HEAD (ID, SEQ, HASH)
SELECT 1, 0, '0000000000000000000000000000000000000000000000000000000000000000'
WHERE NOT EXISTS (SELECT 1 FROM {prefix}_HEAD WHERE ID = 1);
