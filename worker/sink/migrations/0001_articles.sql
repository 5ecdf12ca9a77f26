-- The first PostgreSQL layout: a port of the SQLite sink's tables. One row per article with
-- the whole article as JSON, entities and countries in side tables, full-text search with
-- the `simple` configuration whatever the language, and no stored offsets (the sink re-read
-- the topic from the beginning and relied on the version guard).
CREATE TABLE articles (
    id text PRIMARY KEY,
    version integer NOT NULL,
    url text NOT NULL,
    title text,
    language text,
    published_at_utc text,
    source text,
    section text,
    primary_place text,
    data jsonb NOT NULL
);
CREATE TABLE entities (
    article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    name text NOT NULL,   -- canonical name
    form text NOT NULL,   -- folded canonical name or alias, for look-ups
    type text NOT NULL,
    count integer NOT NULL
);
CREATE INDEX entities_form ON entities (form);
CREATE INDEX entities_article ON entities (article_id);
CREATE TABLE countries (
    article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    code text NOT NULL,
    count integer NOT NULL
);
CREATE INDEX countries_code ON countries (code);
CREATE INDEX countries_article ON countries (article_id);
CREATE INDEX articles_fts ON articles
    USING gin (to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(data ->> 'body', '')));
