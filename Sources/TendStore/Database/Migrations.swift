import SQLKit
public import TendCore

/// A numbered, forward-only schema change. The same statements run on both backends; where
/// a type differs, `statements(kind)` says so.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    /// Drops and recreates a table other tables refer to: runs with foreign keys checked once,
    /// in full, before it commits (see `Database.transactionCheckingForeignKeysAtEnd`).
    public let rebuildsReferencedTables: Bool
    public let statements: @Sendable (DatabaseKind) -> [String]

    public init(version: Int, name: String, rebuildsReferencedTables: Bool = false, statements: @escaping @Sendable (DatabaseKind) -> [String]) {
        self.version = version
        self.name = name
        self.rebuildsReferencedTables = rebuildsReferencedTables
        self.statements = statements
    }
}

public struct SchemaTooNewError: Error, CustomStringConvertible {
    public let databaseVersion: Int
    public let knownVersion: Int
    public var description: String {
        "database schema is at version \(databaseVersion) but this tend knows only up to \(knownVersion); upgrade tend / 数据库结构版本 \(databaseVersion) 高于本程序支持的 \(knownVersion)，请升级 tend"
    }
}

public struct SchemaOutdatedError: Error, CustomStringConvertible {
    public let databaseVersion: Int
    public let knownVersion: Int
    public var description: String {
        "database schema is at version \(databaseVersion), this tend needs \(knownVersion): run `tend migrate` / 数据库结构版本 \(databaseVersion) 过旧，请先运行 tend migrate"
    }
}

public struct Migrator: Sendable {
    public let database: Database
    public let clock: TendClock
    public let migrations: [Migration]

    public init(database: Database, clock: TendClock, migrations: [Migration] = Schema.migrations) {
        self.database = database
        self.clock = clock
        self.migrations = migrations
    }

    public var knownVersion: Int { migrations.map(\.version).max() ?? 0 }

    /// The newest schema version this binary knows.
    public static var knownSchemaVersion: Int { Schema.migrations.map(\.version).max() ?? 0 }

    public func currentVersion() async throws -> Int {
        try await database.session { sql in
            try await Self.ensureLedger(sql)
            let row = try await sql.raw("SELECT MAX(version) AS v FROM schema_migrations").first()
            return try row?.decodeNil(column: "v") == false ? try row!.decode(column: "v", as: Int.self) : 0
        }
    }

    /// Applies every migration newer than the database, each in its own transaction.
    /// Returns the versions applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        let current = try await currentVersion()
        guard current <= knownVersion else {
            throw SchemaTooNewError(databaseVersion: current, knownVersion: knownVersion)
        }
        var applied: [Int] = []
        for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
            let kind = database.kind
            let now = clock.now().epochMilliseconds
            let apply: @Sendable (any SQLDatabase) async throws -> Void = { sql in
                for statement in migration.statements(kind) {
                    try await sql.raw(SQLQueryString(statement)).run()
                }
                try await sql.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now))").run()
            }
            if migration.rebuildsReferencedTables {
                try await database.transactionCheckingForeignKeysAtEnd(apply)
            } else {
                try await database.transaction(apply)
            }
            applied.append(migration.version)
        }
        return applied
    }

    /// Refuses a database whose schema this binary does not know, or has not migrated.
    public func checkCompatible() async throws {
        let current = try await currentVersion()
        if current > knownVersion {
            throw SchemaTooNewError(databaseVersion: current, knownVersion: knownVersion)
        }
        if current < knownVersion {
            throw SchemaOutdatedError(databaseVersion: current, knownVersion: knownVersion)
        }
    }

    private static func ensureLedger(_ sql: any SQLDatabase) async throws {
        try await sql.raw("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)").run()
    }
}

/// Tend's schema, in order. Instants are BIGINT milliseconds since the Unix epoch on both
/// backends, so range scans and comparisons behave the same everywhere.
public enum Schema {
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "programs_staff_auth_audit") { _ in
            [
                """
                CREATE TABLE programs (
                    id TEXT PRIMARY KEY,
                    slug TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE staff_users (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    display_name TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    locale TEXT,
                    is_platform_admin BIGINT NOT NULL DEFAULT 0,
                    disabled BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE memberships (
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    user_id TEXT NOT NULL REFERENCES staff_users(id),
                    role TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (program_id, user_id)
                )
                """,
                "CREATE INDEX memberships_by_user ON memberships (user_id)",
                """
                CREATE TABLE web_sessions (
                    token_hash TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES staff_users(id),
                    csrf_token TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX web_sessions_by_user ON web_sessions (user_id)",
                """
                CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES staff_users(id),
                    name TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX api_tokens_by_user ON api_tokens (user_id)",
                """
                CREATE TABLE audit_events (
                    id TEXT PRIMARY KEY,
                    program_id TEXT,
                    actor_id TEXT,
                    actor_kind TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject_type TEXT,
                    subject_id TEXT,
                    request_id TEXT,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX audit_by_program_subject ON audit_events (program_id, subject_id, at)",
            ]
        },
        Migration(version: 2, name: "patients_tags_consents") { _ in
            [
                """
                CREATE TABLE patients (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    external_id TEXT,
                    name_enc TEXT NOT NULL,
                    name_bidx TEXT NOT NULL,
                    sex TEXT NOT NULL,
                    birth_date TEXT,
                    phone_enc TEXT,
                    phone_bidx TEXT,
                    id_number_enc TEXT,
                    id_number_bidx TEXT,
                    address_enc TEXT,
                    locale TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    contact_window TEXT,
                    quiet_hours TEXT,
                    channels TEXT NOT NULL,
                    caregivers_enc TEXT,
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX patients_by_external_id ON patients (program_id, external_id)",
                "CREATE INDEX patients_by_phone ON patients (program_id, phone_bidx)",
                "CREATE INDEX patients_by_id_number ON patients (program_id, id_number_bidx)",
                "CREATE INDEX patients_by_name ON patients (program_id, name_bidx)",
                "CREATE INDEX patients_by_status ON patients (program_id, status, id)",
                """
                CREATE TABLE patient_tags (
                    program_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    tag_key TEXT NOT NULL,
                    tag_value TEXT NOT NULL,
                    set_by TEXT,
                    source TEXT NOT NULL,
                    set_at BIGINT NOT NULL,
                    PRIMARY KEY (patient_id, tag_key, tag_value)
                )
                """,
                "CREATE INDEX patient_tags_by_tag ON patient_tags (program_id, tag_key, tag_value, patient_id)",
                """
                CREATE TABLE patient_consents (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    kind TEXT NOT NULL,
                    version TEXT NOT NULL,
                    granted_at BIGINT NOT NULL,
                    withdrawn_at BIGINT,
                    recorded_by TEXT
                )
                """,
                "CREATE INDEX patient_consents_by_patient ON patient_consents (patient_id)",
            ]
        },
        Migration(version: 3, name: "pathways_enrolments_touchpoints") { kind in
            // On SQLite the touchpoints table is clustered on its id (one B-tree instead of a
            // rowid table plus a key index): materialising millions of rows writes a third less.
            let clustered = kind == .sqlite ? " WITHOUT ROWID" : ""
            return [
                """
                CREATE TABLE pathways (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    slug TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    name_en TEXT NOT NULL,
                    name_zh TEXT NOT NULL,
                    source TEXT NOT NULL,
                    definition TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX pathways_by_slug ON pathways (program_id, slug, version)",
                """
                CREATE TABLE enrolments (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    pathway_id TEXT NOT NULL REFERENCES pathways(id),
                    anchors TEXT NOT NULL,
                    status TEXT NOT NULL,
                    planned_until TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX enrolments_by_patient ON enrolments (program_id, patient_id)",
                "CREATE INDEX enrolments_by_pathway ON enrolments (pathway_id, status)",
                """
                CREATE TABLE touchpoints (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL,
                    enrolment_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL,
                    step_id TEXT NOT NULL,
                    occurrence BIGINT NOT NULL,
                    due_at BIGINT NOT NULL,
                    local_due TEXT NOT NULL,
                    channels TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    confirm BIGINT NOT NULL,
                    if_unconfirmed TEXT,
                    status TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    lease_until BIGINT,
                    sent_at BIGINT,
                    confirmed_at BIGINT,
                    updated_at BIGINT NOT NULL
                )\(clustered)
                """,
                // The id is `enrolment.step.occurrence`, so the primary key also keeps one
                // touchpoint per step occurrence of an enrolment.
                "CREATE INDEX touchpoints_due ON touchpoints (status, due_at)",
                "CREATE INDEX touchpoints_by_patient ON touchpoints (patient_id, due_at)",
            ]
        },
            Migration(version: 4, name: "dispatch_tasks_portal_channels") { _ in
            [
                // Who holds the lease (lease_until is when it ends, or when a retry may start).
                "ALTER TABLE touchpoints ADD COLUMN lease_owner TEXT",
                "ALTER TABLE touchpoints ADD COLUMN channel TEXT",
                "ALTER TABLE touchpoints ADD COLUMN last_error TEXT",
                """
                CREATE TABLE staff_tasks (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT,
                    touchpoint_id TEXT,
                    kind TEXT NOT NULL,
                    title_enc TEXT NOT NULL,
                    priority BIGINT NOT NULL,
                    due_at BIGINT NOT NULL,
                    sla_at BIGINT NOT NULL,
                    status TEXT NOT NULL,
                    assignee_id TEXT,
                    outcome TEXT,
                    note_enc TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    completed_at BIGINT,
                    completed_by TEXT
                )
                """,
                "CREATE INDEX staff_tasks_queue ON staff_tasks (program_id, status, sla_at)",
                "CREATE INDEX staff_tasks_by_patient ON staff_tasks (patient_id)",
                """
                CREATE TABLE portal_messages (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL,
                    touchpoint_id TEXT,
                    body_enc TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    read_at BIGINT
                )
                """,
                "CREATE INDEX portal_messages_by_patient ON portal_messages (patient_id, created_at)",
                """
                CREATE TABLE channel_configs (
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    channel TEXT NOT NULL,
                    config_enc TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (program_id, channel)
                )
                """,
            ]
        },
        Migration(version: 5, name: "groups_messages_triage") { _ in
            [
                """
                CREATE TABLE chat_groups (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    name TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    binding TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                // A group is found by its channel's own id for it (a WeCom chat id, say).
                "CREATE UNIQUE INDEX chat_groups_by_binding ON chat_groups (program_id, channel, binding)",
                """
                CREATE TABLE chat_group_members (
                    group_id TEXT NOT NULL REFERENCES chat_groups(id),
                    member_kind TEXT NOT NULL,
                    member_id TEXT NOT NULL,
                    PRIMARY KEY (group_id, member_kind, member_id)
                )
                """,
                """
                CREATE TABLE messages (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    group_id TEXT,
                    patient_id TEXT,
                    channel TEXT NOT NULL,
                    direction TEXT NOT NULL,
                    sender_enc TEXT,
                    text_enc TEXT NOT NULL,
                    sent_at BIGINT NOT NULL,
                    received_at BIGINT NOT NULL,
                    level TEXT,
                    compliance BIGINT NOT NULL DEFAULT 0,
                    reasons_enc TEXT,
                    queue TEXT NOT NULL,
                    status TEXT NOT NULL,
                    sla_at BIGINT,
                    task_id TEXT,
                    moved_to_private BIGINT NOT NULL DEFAULT 0,
                    feedback_level TEXT,
                    handled_by TEXT,
                    handled_at BIGINT,
                    reply_to TEXT
                )
                """,
                "CREATE INDEX messages_inbox ON messages (program_id, status, queue, sla_at)",
                "CREATE INDEX messages_by_patient ON messages (patient_id, sent_at)",
                "CREATE INDEX messages_by_group ON messages (group_id, sent_at)",
                """
                CREATE TABLE triage_settings (
                    program_id TEXT PRIMARY KEY REFERENCES programs(id),
                    settings TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
            ]
        },
        Migration(version: 6, name: "touchpoints_by_enrolment") { kind in
            // A touchpoint's id starts with its enrolment's id. On SQLite the table is clustered
            // on that id, so an enrolment's touchpoints are one key range and a patient's are the
            // ranges of their enrolments: the (patient_id, due_at) index only cost writes. On
            // PostgreSQL text ranges follow the database collation, so an index does the work.
            kind == .sqlite
                ? ["DROP INDEX touchpoints_by_patient"]
                : ["CREATE INDEX touchpoints_by_enrolment ON touchpoints (enrolment_id)"]
        },
        Migration(version: 7, name: "enrolments_by_horizon") { _ in
            // The dispatcher looks for active enrolments whose open-ended steps are planned
            // less far ahead than the horizon.
            ["CREATE INDEX enrolments_by_horizon ON enrolments (status, planned_until)"]
        },
        Migration(version: 8, name: "sender_identities") { _ in
            [
                // Who a message is from when it is not the patient's own phone: a family member's
                // phone (blind index, from the patient's caregivers) or a channel's user id.
                """
                CREATE TABLE sender_identities (
                    program_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    key_bidx TEXT NOT NULL,
                    patient_id TEXT NOT NULL,
                    relation TEXT,
                    PRIMARY KEY (program_id, kind, key_bidx, patient_id)
                )
                """,
                "CREATE INDEX sender_identities_by_patient ON sender_identities (patient_id, kind)",
            ]
        },
        Migration(version: 9, name: "shorter_blind_indexes") { _ in
            // Blind indexes keep the first 128 bits of their HMAC (the prefix of the value
            // stored so far) and are indexed alone: a value is rarely shared, so the program
            // filter costs nothing on the few rows found. An index entry shrinks from about
            // 110 to 40 bytes, and a bulk import dirties that many fewer pages per patient.
            [
                "UPDATE patients SET name_bidx = substr(name_bidx, 1, 32), phone_bidx = substr(phone_bidx, 1, 32), id_number_bidx = substr(id_number_bidx, 1, 32)",
                "UPDATE sender_identities SET key_bidx = substr(key_bidx, 1, 32)",
                "DROP INDEX patients_by_phone",
                "DROP INDEX patients_by_id_number",
                "DROP INDEX patients_by_name",
                "CREATE INDEX patients_by_phone ON patients (phone_bidx)",
                "CREATE INDEX patients_by_id_number ON patients (id_number_bidx)",
                "CREATE INDEX patients_by_name ON patients (name_bidx)",
            ]
        },
        Migration(version: 10, name: "clustered_tags_and_audit") { kind in
            // On SQLite a table with a text primary key is two B-trees (rows by rowid, and the
            // key); clustered on the key it is one. Tags and audit events are written for every
            // imported patient, so a bulk import updates three fewer B-trees per patient.
            // PostgreSQL has no rowid: nothing to do there.
            guard kind == .sqlite else { return [] }
            return [
                """
                CREATE TABLE patient_tags_clustered (
                    program_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    tag_key TEXT NOT NULL,
                    tag_value TEXT NOT NULL,
                    set_by TEXT,
                    source TEXT NOT NULL,
                    set_at BIGINT NOT NULL,
                    PRIMARY KEY (patient_id, tag_key, tag_value)
                ) WITHOUT ROWID
                """,
                "INSERT INTO patient_tags_clustered SELECT program_id, patient_id, tag_key, tag_value, set_by, source, set_at FROM patient_tags",
                "DROP TABLE patient_tags",
                "ALTER TABLE patient_tags_clustered RENAME TO patient_tags",
                "CREATE INDEX patient_tags_by_tag ON patient_tags (program_id, tag_key, tag_value, patient_id)",
                """
                CREATE TABLE audit_events_clustered (
                    id TEXT NOT NULL PRIMARY KEY,
                    program_id TEXT,
                    actor_id TEXT,
                    actor_kind TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject_type TEXT,
                    subject_id TEXT,
                    request_id TEXT,
                    at BIGINT NOT NULL
                ) WITHOUT ROWID
                """,
                "INSERT INTO audit_events_clustered SELECT id, program_id, actor_id, actor_kind, action, subject_type, subject_id, request_id, at FROM audit_events",
                "DROP TABLE audit_events",
                "ALTER TABLE audit_events_clustered RENAME TO audit_events",
                "CREATE INDEX audit_by_program_subject ON audit_events (program_id, subject_id, at)",
            ]
        },
        Migration(version: 11, name: "deferred_patient_foreign_keys", rebuildsReferencedTables: true) { kind in
            // SQLite keeps a statement journal (a copy of every page a statement changes, so it
            // can undo just that statement) for a multi-row INSERT that may stop half-way, which
            // an immediate foreign key makes it. A bulk import's statements change thousands of
            // random index pages each: the journal was a third of its database time. Checked at
            // COMMIT instead, the keys hold just the same. PostgreSQL keeps no such journal.
            guard kind == .sqlite else { return [] }
            return [
                """
                CREATE TABLE patients_rebuilt (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id) DEFERRABLE INITIALLY DEFERRED,
                    external_id TEXT,
                    name_enc TEXT NOT NULL,
                    name_bidx TEXT NOT NULL,
                    sex TEXT NOT NULL,
                    birth_date TEXT,
                    phone_enc TEXT,
                    phone_bidx TEXT,
                    id_number_enc TEXT,
                    id_number_bidx TEXT,
                    address_enc TEXT,
                    locale TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    contact_window TEXT,
                    quiet_hours TEXT,
                    channels TEXT NOT NULL,
                    caregivers_enc TEXT,
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "INSERT INTO patients_rebuilt SELECT id, program_id, external_id, name_enc, name_bidx, sex, birth_date, phone_enc, phone_bidx, id_number_enc, id_number_bidx, address_enc, locale, time_zone, contact_window, quiet_hours, channels, caregivers_enc, status, created_at, updated_at FROM patients",
                "DROP TABLE patients",
                "ALTER TABLE patients_rebuilt RENAME TO patients",
                "CREATE UNIQUE INDEX patients_by_external_id ON patients (program_id, external_id)",
                "CREATE INDEX patients_by_phone ON patients (phone_bidx)",
                "CREATE INDEX patients_by_id_number ON patients (id_number_bidx)",
                "CREATE INDEX patients_by_name ON patients (name_bidx)",
                "CREATE INDEX patients_by_status ON patients (program_id, status, id)",
                """
                CREATE TABLE patient_tags_rebuilt (
                    program_id TEXT NOT NULL,
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    tag_key TEXT NOT NULL,
                    tag_value TEXT NOT NULL,
                    set_by TEXT,
                    source TEXT NOT NULL,
                    set_at BIGINT NOT NULL,
                    PRIMARY KEY (patient_id, tag_key, tag_value)
                ) WITHOUT ROWID
                """,
                "INSERT INTO patient_tags_rebuilt SELECT program_id, patient_id, tag_key, tag_value, set_by, source, set_at FROM patient_tags",
                "DROP TABLE patient_tags",
                "ALTER TABLE patient_tags_rebuilt RENAME TO patient_tags",
                "CREATE INDEX patient_tags_by_tag ON patient_tags (program_id, tag_key, tag_value, patient_id)",
            ]
        },
        Migration(version: 12, name: "64_bit_blind_indexes") { _ in
            // Blind indexes keep the first 64 bits of their HMAC (see `BlindIndexer`): the
            // prefix of what is stored, so cutting it is all there is to do.
            [
                "UPDATE patients SET name_bidx = substr(name_bidx, 1, 16), phone_bidx = substr(phone_bidx, 1, 16), id_number_bidx = substr(id_number_bidx, 1, 16)",
                "UPDATE sender_identities SET key_bidx = substr(key_bidx, 1, 16)",
            ]
        },
        Migration(version: 13, name: "session_idle_token_limits_unique_identities") { kind in
            var statements = [
                // Sessions end after idle time; tokens may expire and act with a lower role.
                "ALTER TABLE web_sessions ADD COLUMN last_seen_at BIGINT",
                "UPDATE web_sessions SET last_seen_at = created_at",
                "ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT",
                "ALTER TABLE api_tokens ADD COLUMN role_ceiling TEXT",
            ]
            // On PostgreSQL two requests can check for a duplicate at the same moment; a unique
            // index decides between them. SQLite has one writer, so the check inside the write
            // transaction already decides.
            if kind == .postgres {
                statements += [
                    "CREATE UNIQUE INDEX patients_unique_phone ON patients (program_id, phone_bidx)",
                    "CREATE UNIQUE INDEX patients_unique_id_number ON patients (program_id, id_number_bidx)",
                ]
            }
            return statements
        },
        Migration(version: 14, name: "crypto_upgrades") { _ in
            // Steps that need the keys (re-keying blind indexes per program, binding sealed
            // fields to their rows) run in Swift after the schema migrations; see CryptoUpgrade.
            ["CREATE TABLE crypto_upgrades (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)"]
        },
        Migration(version: 15, name: "messages_by_time") { _ in
            // Message search reads a program's newest messages first: in this order, from the
            // newest, instead of sorting every message of the program.
            ["CREATE INDEX messages_by_time ON messages (program_id, sent_at, id)"]
        },
        Migration(version: 16, name: "observations") { _ in
            [
                // Readings, answers and scores. Numbers in the code's canonical unit; text sealed.
                """
                CREATE TABLE observations (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id) DEFERRABLE INITIALLY DEFERRED,
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    code TEXT NOT NULL,
                    value_kind TEXT NOT NULL,
                    value_number DOUBLE PRECISION,
                    value_text_enc TEXT,
                    unit TEXT,
                    flags TEXT NOT NULL DEFAULT '',
                    effective_at BIGINT NOT NULL,
                    zone TEXT NOT NULL,
                    source TEXT NOT NULL,
                    external_id TEXT,
                    recorded_by TEXT,
                    produced_by TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX observations_by_patient ON observations (patient_id, code, effective_at)",
                // A sender's own id, once per source: a device that resends adds nothing.
                "CREATE UNIQUE INDEX observations_by_external_id ON observations (program_id, source, external_id)",
            ]
        },
        Migration(version: 17, name: "observation_alerts") { _ in
            [
                """
                CREATE TABLE observation_alerts (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    rule_id TEXT NOT NULL,
                    priority TEXT NOT NULL,
                    status TEXT NOT NULL,
                    first_observation_id TEXT NOT NULL,
                    last_observation_id TEXT NOT NULL,
                    breaches BIGINT NOT NULL,
                    task_id TEXT,
                    opened_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    resolved_at BIGINT,
                    resolved_by TEXT
                )
                """,
                // One alert per rule and patient until it is resolved: a new breach joins it.
                "CREATE UNIQUE INDEX observation_alerts_unresolved ON observation_alerts (program_id, rule_id, patient_id) WHERE status <> 'resolved'",
                "CREATE INDEX observation_alerts_queue ON observation_alerts (program_id, status, opened_at)",
                "CREATE INDEX observation_alerts_by_patient ON observation_alerts (patient_id, opened_at)",
            ]
        },
        Migration(version: 18, name: "questionnaires") { _ in
            [
                // A program's own questionnaires (its wording of a licensed scale, its forms), by
                // version; a shipped questionnaire of the same id is shadowed by the program's.
                """
                CREATE TABLE questionnaires (
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    id TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    source TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    created_by TEXT,
                    PRIMARY KEY (program_id, id, version)
                )
                """,
                // Every response, with its answers sealed (they hold what patients wrote) and its
                // scores in the clear for lists and charts.
                """
                CREATE TABLE questionnaire_responses (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    questionnaire_id TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    touchpoint_id TEXT,
                    answers_enc TEXT NOT NULL,
                    total DOUBLE PRECISION,
                    band TEXT,
                    flags TEXT NOT NULL DEFAULT '',
                    source TEXT NOT NULL,
                    recorded_by TEXT,
                    submitted_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX questionnaire_responses_by_patient ON questionnaire_responses (patient_id, questionnaire_id, submitted_at)",
                // A touchpoint's form is answered once.
                "CREATE UNIQUE INDEX questionnaire_responses_by_touchpoint ON questionnaire_responses (touchpoint_id)",
                // Report photos: sealed bytes, readable by the program's staff only.
                """
                CREATE TABLE photos (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    content_type TEXT NOT NULL,
                    bytes BIGINT NOT NULL,
                    data_enc TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX photos_by_patient ON photos (patient_id, created_at)",
                // What the alert is about, for alerts whose rule is not a fixed threshold
                // (a questionnaire's flag, a missing check-in).
                "ALTER TABLE observation_alerts ADD COLUMN title_en TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE observation_alerts ADD COLUMN title_zh TEXT NOT NULL DEFAULT ''",
                // What the member who acknowledged or resolved it wrote, sealed.
                "ALTER TABLE observation_alerts ADD COLUMN note_enc TEXT",
                // Unanswered questionnaire touchpoints a missing-data alert has counted, so each
                // is counted once however often the sweep runs.
                """
                CREATE TABLE missing_checkins (
                    touchpoint_id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    alert_id TEXT NOT NULL,
                    counted_at BIGINT NOT NULL
                )
                """,
                // A program's own alert rules (sustained, change, thresholds), as its document.
                """
                CREATE TABLE alert_rules (
                    program_id TEXT PRIMARY KEY REFERENCES programs(id),
                    source TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT
                )
                """,
            ]
        },
        Migration(version: 19, name: "dispenses") { _ in
            [
                // Medication handed over: the days it covers, for adherence (PDC) and refill reminders.
                // filled_on is the local day as a day number (days since 1970-01-01).
                """
                CREATE TABLE dispenses (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    drug TEXT NOT NULL,
                    drug_class TEXT,
                    filled_on BIGINT NOT NULL,
                    days_supply BIGINT NOT NULL,
                    quantity DOUBLE PRECISION,
                    pharmacy TEXT,
                    source TEXT NOT NULL,
                    external_id TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                // A program's fills in patient and date order: PDC reads them so, without sorting.
                "CREATE INDEX dispenses_by_program ON dispenses (program_id, patient_id, drug, filled_on)",
                "CREATE INDEX dispenses_by_patient ON dispenses (patient_id, filled_on)",
                "CREATE UNIQUE INDEX dispenses_by_external_id ON dispenses (program_id, source, external_id)",
            ]
        },
        Migration(version: 20, name: "segments") { _ in
            [
                // A program's segments: the rule and actions as stored, and the document written.
                """
                CREATE TABLE segments (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    slug TEXT NOT NULL,
                    name_en TEXT NOT NULL,
                    name_zh TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    on_enter TEXT NOT NULL,
                    on_leave TEXT NOT NULL,
                    source TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT,
                    evaluated_at BIGINT
                )
                """,
                "CREATE UNIQUE INDEX segments_by_slug ON segments (program_id, slug)",
                // Each time a patient was in a segment; left_at is NULL while they are. `pending`
                // marks a move whose actions have not run yet (inside the evaluating transaction).
                """
                CREATE TABLE segment_members (
                    segment_id TEXT NOT NULL REFERENCES segments(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id) DEFERRABLE INITIALLY DEFERRED,
                    program_id TEXT NOT NULL,
                    entered_at BIGINT NOT NULL,
                    left_at BIGINT,
                    pending TEXT
                )
                """,
                "CREATE UNIQUE INDEX segment_members_current ON segment_members (segment_id, patient_id) WHERE left_at IS NULL",
                "CREATE INDEX segment_members_by_patient ON segment_members (patient_id, segment_id, entered_at)",
                "CREATE INDEX segment_members_pending ON segment_members (segment_id, pending) WHERE pending IS NOT NULL",
                // Segment clauses read a program's readings of one code in a window. (Responses are
                // read patient by patient, on their own index: an index of the program's responses
                // by questionnaire is one PostgreSQL picks for a patient's responses.)
                "CREATE INDEX observations_by_code ON observations (program_id, code, effective_at)",
            ]
        },
        Migration(version: 21, name: "portal") { _ in
            [
                // One-time sign-in codes, by the phone's blind index; the code itself is kept only as
                // a keyed hash. A request from a phone nobody in the program has is recorded too
                // (with no code), so throttling says nothing about who is registered.
                """
                CREATE TABLE portal_codes (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    phone_bidx TEXT NOT NULL,
                    address TEXT NOT NULL,
                    code_hash TEXT,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    used_at BIGINT
                )
                """,
                "CREATE INDEX portal_codes_by_phone ON portal_codes (program_id, phone_bidx, created_at)",
                "CREATE INDEX portal_codes_by_address ON portal_codes (address, created_at)",
                // A signed-in phone (patient or family member), or a patient who came through a
                // link from a message (phone_bidx NULL, patient_id set).
                """
                CREATE TABLE portal_sessions (
                    token_hash TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    phone_bidx TEXT,
                    patient_id TEXT REFERENCES patients(id),
                    csrf_token TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL
                )
                """,
                // A read-only link to a patient's record: the token and passcode kept as keyed hashes.
                """
                CREATE TABLE record_shares (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    token_hash TEXT NOT NULL UNIQUE,
                    passcode_hash TEXT,
                    created_by_kind TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    revoked_at BIGINT,
                    failed_attempts INTEGER NOT NULL DEFAULT 0,
                    locked_at BIGINT,
                    first_opened_at BIGINT,
                    last_opened_at BIGINT,
                    opened_count INTEGER NOT NULL DEFAULT 0
                )
                """,
                "CREATE INDEX record_shares_by_patient ON record_shares (program_id, patient_id, created_at)",
            ]
        },
        Migration(version: 22, name: "regimens") { _ in
            [
                // What a patient is prescribed; start_on and stop_on are local days as day numbers.
                """
                CREATE TABLE regimens (
                    id TEXT PRIMARY KEY,
                    program_id TEXT NOT NULL REFERENCES programs(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    drug TEXT NOT NULL,
                    drug_class TEXT,
                    strength TEXT,
                    dose TEXT NOT NULL,
                    frequency TEXT NOT NULL,
                    start_on BIGINT NOT NULL,
                    stop_on BIGINT,
                    prescriber TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX regimens_by_patient ON regimens (patient_id, start_on)",
            ]
        },
]
}
