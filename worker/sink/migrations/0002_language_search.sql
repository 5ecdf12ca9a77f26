-- Search in each article's own language, and one row per article. Full-text search uses the
-- text-search configuration of the article's language where this server has one (`simple`
-- otherwise); enrichment gets its own JSONB column; entity forms and country codes become
-- GIN-indexed arrays on the article row, so storing or reading an article touches one row
-- instead of three tables. The publication time becomes a timestamptz.

-- ISO 639-1 code -> text-search configuration, for the configurations this server has
CREATE TABLE text_search_languages (
    language text PRIMARY KEY,
    config regconfig NOT NULL
);
INSERT INTO text_search_languages (language, config)
SELECT v.language, v.config::regconfig
FROM (VALUES
    ('ar', 'arabic'), ('hy', 'armenian'), ('eu', 'basque'), ('ca', 'catalan'),
    ('da', 'danish'), ('nl', 'dutch'), ('en', 'english'), ('fi', 'finnish'),
    ('fr', 'french'), ('de', 'german'), ('el', 'greek'), ('hi', 'hindi'),
    ('hu', 'hungarian'), ('id', 'indonesian'), ('ms', 'indonesian'), ('ga', 'irish'),
    ('it', 'italian'), ('lt', 'lithuanian'), ('ne', 'nepali'), ('no', 'norwegian'),
    ('nb', 'norwegian'), ('nn', 'norwegian'), ('pt', 'portuguese'), ('ro', 'romanian'),
    ('ru', 'russian'), ('sr', 'serbian'), ('es', 'spanish'), ('sv', 'swedish'),
    ('ta', 'tamil'), ('tr', 'turkish'), ('yi', 'yiddish')
) AS v (language, config)
WHERE v.config IN (SELECT cfgname FROM pg_ts_config);

ALTER TABLE articles
    ADD COLUMN published_at timestamptz,
    ADD COLUMN enrichment jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN entity_forms text[] NOT NULL DEFAULT '{}',
    ADD COLUMN countries text[] NOT NULL DEFAULT '{}',
    ADD COLUMN ts_config regconfig NOT NULL DEFAULT 'simple';

UPDATE articles AS a SET
    published_at = a.published_at_utc::timestamptz,
    enrichment = coalesce(a.data -> 'enrichment', '{}'),
    entity_forms = coalesce(
        (SELECT array_agg(DISTINCT e.form ORDER BY e.form) FROM entities AS e
         WHERE e.article_id = a.id), '{}'),
    countries = coalesce(
        (SELECT array_agg(DISTINCT c.code ORDER BY c.code) FROM countries AS c
         WHERE c.article_id = a.id), '{}'),
    ts_config = coalesce(
        (SELECT l.config FROM text_search_languages AS l
         WHERE l.language = lower(split_part(a.language, '-', 1))), 'simple'),
    data = a.data - 'enrichment';

-- the article without its enrichment; published_at_utc stays inside it
ALTER TABLE articles RENAME COLUMN data TO article;
ALTER TABLE articles DROP COLUMN published_at_utc;
DROP INDEX articles_fts;
DROP TABLE entities;
DROP TABLE countries;

ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(ts_config, coalesce(title, '')), 'A')
    || setweight(to_tsvector(ts_config, coalesce(article ->> 'body', '')), 'B')
) STORED;
CREATE INDEX articles_search ON articles USING gin (search);
CREATE INDEX articles_entity_forms ON articles USING gin (entity_forms);
CREATE INDEX articles_countries ON articles USING gin (countries);
CREATE INDEX articles_published_at ON articles (published_at DESC);
