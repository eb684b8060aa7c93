"""The user store's schema, as numbered steps applied in order on both backends.

Every step must be accepted by DuckDB and PostgreSQL alike (``postgres.postgres_sql`` makes
the one translation, ``DOUBLE``). Steps are never edited once released; a change is a new step.
"""

from __future__ import annotations

# Later features add their tables as further steps here; never edit a step once released.
USER_MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "meta", "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);"),
    (
        2,
        "resident needs, support, annotations, moderation log, accounts",
        """
        CREATE SEQUENCE IF NOT EXISTS need_ids;
        CREATE TABLE IF NOT EXISTS needs (
            id INTEGER PRIMARY KEY DEFAULT nextval('need_ids'),
            created_at TIMESTAMP NOT NULL,
            category VARCHAR NOT NULL, description VARCHAR NOT NULL,
            people_affected INTEGER, age_groups VARCHAR[],
            lon DOUBLE, lat DOUBLE,          -- exact point: never shown or exported publicly
            postcode VARCHAR,                -- private too
            lsoa21_code VARCHAR NOT NULL, lad_code VARCHAR,
            contact VARCHAR,                 -- optional, never shown publicly
            status VARCHAR NOT NULL DEFAULT 'pending',   -- pending | approved | rejected
            status_reason VARCHAR,
            channel VARCHAR NOT NULL DEFAULT 'web',      -- web | workshop | csv
            consent_recorded BOOLEAN, entered_by VARCHAR,
            session_hash VARCHAR
        );
        CREATE TABLE IF NOT EXISTS need_support (
            need_id INTEGER NOT NULL, session_hash VARCHAR NOT NULL, created_at TIMESTAMP,
            PRIMARY KEY (need_id, session_hash)
        );
        CREATE SEQUENCE IF NOT EXISTS annotation_ids;
        CREATE TABLE IF NOT EXISTS annotations (
            id INTEGER PRIMARY KEY DEFAULT nextval('annotation_ids'),
            created_at TIMESTAMP NOT NULL, author VARCHAR NOT NULL, group_name VARCHAR,
            area_level VARCHAR NOT NULL, area_code VARCHAR NOT NULL,
            body VARCHAR NOT NULL, evidence_url VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'pending', status_reason VARCHAR
        );
        CREATE SEQUENCE IF NOT EXISTS moderation_ids;
        CREATE TABLE IF NOT EXISTS moderation_log (
            id INTEGER PRIMARY KEY DEFAULT nextval('moderation_ids'),
            acted_at TIMESTAMP NOT NULL, moderator VARCHAR NOT NULL,
            item_type VARCHAR NOT NULL, item_id INTEGER NOT NULL,
            action VARCHAR NOT NULL, reason VARCHAR, before_text VARCHAR, after_text VARCHAR
        );
        CREATE TABLE IF NOT EXISTS accounts (
            username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL, role VARCHAR NOT NULL,
            display_name VARCHAR, group_name VARCHAR, created_at TIMESTAMP
        );
        """,
    ),
    (
        3,
        "needs: where and when a facilitator gathered a need",
        """
        ALTER TABLE needs ADD COLUMN source_note VARCHAR;
        """,
    ),
    (
        4,
        "you said, we did: commissioners' decisions on gaps (append-only log)",
        """
        CREATE SEQUENCE IF NOT EXISTS decision_ids;
        CREATE TABLE IF NOT EXISTS decisions (
            id INTEGER PRIMARY KEY DEFAULT nextval('decision_ids'),
            recorded_at TIMESTAMP NOT NULL, recorded_by VARCHAR NOT NULL,
            lad_code VARCHAR NOT NULL,
            area_level VARCHAR NOT NULL,     -- lsoa21 | ward | lad
            area_code VARCHAR NOT NULL,
            category VARCHAR NOT NULL,       -- an id from needsmap.taxonomy
            status VARCHAR NOT NULL,         -- considering | in_progress | commissioned | declined
            decided_on VARCHAR NOT NULL,     -- ISO date (YYYY-MM-DD) of the decision
            budget DOUBLE PRECISION,         -- pounds, optional
            reason VARCHAR,                  -- required when declined
            action VARCHAR                   -- what is being done, in words residents read
        );
        """,
    ),
    (
        5,
        "submission keys: a report or note sent again after an error is saved once",
        """
        ALTER TABLE needs ADD COLUMN IF NOT EXISTS submission_key VARCHAR;
        CREATE UNIQUE INDEX IF NOT EXISTS needs_submission_key ON needs (submission_key);
        ALTER TABLE annotations ADD COLUMN IF NOT EXISTS submission_key VARCHAR;
        CREATE UNIQUE INDEX IF NOT EXISTS annotations_submission_key ON annotations (submission_key);
        """,
    ),
    (
        6,
        "app keys: the secret the browser cookie is signed with, shared by every app process",
        """
        CREATE TABLE IF NOT EXISTS app_keys (
            name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, created_at TIMESTAMP
        );
        """,
    ),
    (
        7,
        "about you: a resident's optional age band and answers, kept apart from the report text",
        """
        CREATE TABLE IF NOT EXISTS about_you (
            need_id INTEGER PRIMARY KEY,     -- the report reference: the only link to the report
            age_band VARCHAR,                -- a Census 2021 band (needsmap.ingest.population)
            answers VARCHAR,                 -- JSON of the deploying organisation's own questions
            consented_at TIMESTAMP NOT NULL  -- when the resident ticked the consent box
        );
        """,
    ),
    (
        8,
        "priorities rounds: rounds, their options, ballots and community weightings",
        """
        CREATE SEQUENCE IF NOT EXISTS round_ids;
        CREATE TABLE IF NOT EXISTS rounds (
            id INTEGER PRIMARY KEY DEFAULT nextval('round_ids'),
            created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL,
            area_kind VARCHAR NOT NULL,      -- a kind of needsmap.store.areas (lad, ward, icb...)
            area_code VARCHAR NOT NULL, area_name VARCHAR NOT NULL, lad_code VARCHAR,
            lsoas VARCHAR NOT NULL,          -- JSON list of the area's LSOA 2021 codes
            question VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,           -- approval | budget
            max_choices INTEGER,             -- approval: choose up to this many
            budget DOUBLE,                   -- budget: pounds to share among projects
            opens_on DATE NOT NULL, closes_on DATE NOT NULL,   -- votes taken on these days too
            require_postcode BOOLEAN NOT NULL DEFAULT FALSE,
            status VARCHAR NOT NULL DEFAULT 'open',            -- open | closed
            closed_at TIMESTAMP, closed_by VARCHAR,
            submission_key VARCHAR
        );
        CREATE UNIQUE INDEX IF NOT EXISTS rounds_submission_key ON rounds (submission_key);
        CREATE SEQUENCE IF NOT EXISTS round_option_ids;
        CREATE TABLE IF NOT EXISTS round_options (
            id INTEGER PRIMARY KEY DEFAULT nextval('round_option_ids'),
            round_id INTEGER NOT NULL, position INTEGER NOT NULL,
            kind VARCHAR NOT NULL,           -- category | gap | project
            label VARCHAR NOT NULL,
            category VARCHAR,                -- an id from needsmap.terms.taxonomy (gaps: always)
            ward_code VARCHAR,               -- gaps: the ward
            cost DOUBLE,                     -- projects: pounds
            evidence VARCHAR                 -- gaps: JSON of the Gaps figures when the round opened
        );
        CREATE SEQUENCE IF NOT EXISTS ballot_ids;
        CREATE TABLE IF NOT EXISTS ballots (
            id INTEGER PRIMARY KEY DEFAULT nextval('ballot_ids'),
            round_id INTEGER NOT NULL, created_at TIMESTAMP NOT NULL,
            lsoa21_code VARCHAR,             -- from the voter's postcode, when given
            source VARCHAR NOT NULL,         -- browser | paper | workshop
            consent_recorded BOOLEAN,        -- paper and workshop: the facilitator confirmed it
            entered_by VARCHAR,
            voter_key VARCHAR,               -- browser: a hash of its cookie token, never the token
            submission_key VARCHAR
        );
        CREATE UNIQUE INDEX IF NOT EXISTS ballots_one_per_browser ON ballots (round_id, voter_key);
        CREATE UNIQUE INDEX IF NOT EXISTS ballots_submission_key ON ballots (submission_key);
        CREATE TABLE IF NOT EXISTS ballot_choices (
            ballot_id INTEGER NOT NULL, option_id INTEGER NOT NULL,
            PRIMARY KEY (ballot_id, option_id)
        );
        CREATE TABLE IF NOT EXISTS ballot_about_you (
            ballot_id INTEGER PRIMARY KEY,   -- the only link to the ballot
            age_band VARCHAR, answers VARCHAR, consented_at TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE IF NOT EXISTS weighting_ids;
        CREATE TABLE IF NOT EXISTS community_weightings (
            id INTEGER PRIMARY KEY DEFAULT nextval('weighting_ids'),
            name VARCHAR NOT NULL UNIQUE,    -- "Stretford residents, March 2027"
            round_id INTEGER NOT NULL,
            weights VARCHAR NOT NULL,        -- JSON: category id -> weight (shares, sum 1)
            voters VARCHAR NOT NULL,         -- who voted, in words
            ballots INTEGER NOT NULL,
            first_day DATE NOT NULL, last_day DATE NOT NULL,
            saved_by VARCHAR NOT NULL, saved_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        9,
        "closing the loop: decisions linked to reports, their stages and frozen evidence, "
        "residents' subscriptions and answers, report references, the mail outbox",
        """
        CREATE TABLE IF NOT EXISTS decision_links (
            decision_id INTEGER NOT NULL,
            need_id INTEGER,                 -- an approved report the decision answers
            round_option_id INTEGER          -- a priorities-round option (no foreign key)
        );
        CREATE SEQUENCE IF NOT EXISTS decision_stage_ids;
        CREATE TABLE IF NOT EXISTS decision_stages (
            id INTEGER PRIMARY KEY DEFAULT nextval('decision_stage_ids'),
            decision_id INTEGER NOT NULL,
            stage VARCHAR NOT NULL,          -- considering | commissioned | in_place | declined
            changed_on VARCHAR NOT NULL,     -- ISO date (YYYY-MM-DD) of the change
            reason VARCHAR,                  -- required when not taken forward
            recorded_at TIMESTAMP NOT NULL, recorded_by VARCHAR NOT NULL
        );
        CREATE TABLE IF NOT EXISTS decision_evidence (
            decision_id INTEGER PRIMARY KEY,
            frozen_at TIMESTAMP NOT NULL,
            evidence VARCHAR NOT NULL        -- JSON: gap score and rank, reasons, counts,
                                             -- provision measures, data vintages
        );
        CREATE TABLE IF NOT EXISTS need_references (
            need_id INTEGER PRIMARY KEY,
            check_code VARCHAR NOT NULL      -- the random part of the reference residents keep
        );
        CREATE SEQUENCE IF NOT EXISTS subscription_ids;
        CREATE TABLE IF NOT EXISTS subscriptions (
            id INTEGER PRIMARY KEY DEFAULT nextval('subscription_ids'),
            created_at TIMESTAMP NOT NULL,
            email VARCHAR NOT NULL,
            need_id INTEGER NOT NULL,
            kind VARCHAR NOT NULL,           -- reporter | supporter ("affects me too")
            token VARCHAR NOT NULL,          -- in the unsubscribe and "did it help?" links
            unsubscribed_at TIMESTAMP
        );
        CREATE UNIQUE INDEX IF NOT EXISTS subscriptions_token ON subscriptions (token);
        CREATE SEQUENCE IF NOT EXISTS feedback_ids;
        CREATE TABLE IF NOT EXISTS decision_feedback (
            id INTEGER PRIMARY KEY DEFAULT nextval('feedback_ids'),
            decision_id INTEGER NOT NULL,
            respondent VARCHAR NOT NULL,     -- a hash of the reference or link it came from
            answer VARCHAR NOT NULL,         -- yes | partly | no
            comment VARCHAR,
            created_at TIMESTAMP NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS decision_feedback_once
            ON decision_feedback (decision_id, respondent);
        CREATE SEQUENCE IF NOT EXISTS outbox_ids;
        CREATE TABLE IF NOT EXISTS outbox (
            id INTEGER PRIMARY KEY DEFAULT nextval('outbox_ids'),
            created_at TIMESTAMP NOT NULL,
            dedupe_key VARCHAR NOT NULL,     -- one message per event and person
            recipient VARCHAR NOT NULL, subject VARCHAR NOT NULL, body VARCHAR NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try TIMESTAMP NOT NULL,
            claimed_at TIMESTAMP,            -- a send began (its outcome unknown until sent_at)
            sent_at TIMESTAMP,
            failed_at TIMESTAMP, last_error VARCHAR
        );
        CREATE UNIQUE INDEX IF NOT EXISTS outbox_dedupe ON outbox (dedupe_key);
        """,
    ),
]
