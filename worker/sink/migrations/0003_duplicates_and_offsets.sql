-- Exactly once into the database: the consumer's offsets commit in the same transaction as
-- the rows they cover. Also duplicate links (from kabar.duplicates), each article's source
-- record, and an outbox for dead letters (written with the batch, published afterwards).

-- where each row came from: the kabar.articles record that wrote this version
ALTER TABLE articles
    ADD COLUMN kafka_topic text,
    ADD COLUMN kafka_partition integer,
    ADD COLUMN kafka_offset bigint,
    ADD COLUMN stored_at timestamptz NOT NULL DEFAULT now();

-- a page recognised as a copy of an earlier article; the original may be stored later or
-- not at all (another sink, a retention limit), so this is a link, not a foreign key
CREATE TABLE duplicates (
    duplicate_id text PRIMARY KEY,
    duplicate_url text NOT NULL,
    original_id text NOT NULL,
    original_url text NOT NULL,
    kind text NOT NULL,
    similarity double precision NOT NULL,
    detected_at timestamptz NOT NULL,
    correction boolean NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX duplicates_original ON duplicates (original_id);

-- the next offset to read per partition, committed with the rows
CREATE TABLE sink_offsets (
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- dead letters not yet on kabar.deadletter; bytea, because a letter may carry exactly the
-- NUL character PostgreSQL refused in the row
CREATE TABLE sink_dead_letters (
    id bigserial PRIMARY KEY,
    key bytea,
    letter bytea NOT NULL
);
