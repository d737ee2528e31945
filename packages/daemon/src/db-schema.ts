/**
 * nsboxd's own tables, migrated under the 'daemon' namespace of the shared SQLite store:
 * tenants (with their policy grants), tokens (hashes only), the audit log, API operations and
 * imported templates (with the tenant that owns each).
 * Append steps; never edit a shipped one.
 */

export const daemonMigrations: readonly string[] = [
  `CREATE TABLE daemon_tenants (
     name TEXT PRIMARY KEY,
     description TEXT NOT NULL DEFAULT '',
     quotas TEXT NOT NULL DEFAULT '{}',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE daemon_tokens (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     tenant TEXT REFERENCES daemon_tenants(name),
     role TEXT NOT NULL,
     created_by TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     revoked_at INTEGER,
     last_used_at INTEGER
   );
   CREATE INDEX daemon_tokens_tenant ON daemon_tokens(tenant);
   CREATE TABLE daemon_audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     time INTEGER NOT NULL,
     token_id TEXT,
     token_name TEXT,
     tenant TEXT,
     role TEXT,
     method TEXT NOT NULL,
     url TEXT NOT NULL,
     route TEXT,
     box TEXT,
     status INTEGER NOT NULL,
     code TEXT,
     duration_ms INTEGER NOT NULL
   );
   CREATE INDEX daemon_audit_tenant ON daemon_audit(tenant, id);
   CREATE TABLE daemon_operations (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     description TEXT NOT NULL,
     status TEXT NOT NULL,
     tenant TEXT,
     resources TEXT NOT NULL DEFAULT '{}',
     input TEXT NOT NULL DEFAULT '{}',
     progress TEXT,
     result TEXT,
     error TEXT,
     pid INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX daemon_operations_status ON daemon_operations(status);
   CREATE TABLE daemon_templates (
     name TEXT PRIMARY KEY,
     source TEXT NOT NULL,
     kind TEXT NOT NULL,
     path TEXT NOT NULL,
     image TEXT,
     created_at INTEGER NOT NULL
   );`,
  // The tenant policy (grants beyond the tenant-safe baseline); templates belong to a tenant or are shared.
  `ALTER TABLE daemon_tenants ADD COLUMN policy TEXT NOT NULL DEFAULT '{"grants":[],"roles":{}}';
   ALTER TABLE daemon_templates ADD COLUMN owner TEXT;
   ALTER TABLE daemon_templates ADD COLUMN shared INTEGER NOT NULL DEFAULT 1;`,
];
