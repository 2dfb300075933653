// The gallery on disk: one SQLite file (better-sqlite3, WAL, synchronous=FULL) with the identities, their
// enrolled embeddings and the model they were made with. Every write is one transaction, so a kill -9 leaves
// either the whole enrolment or none of it, and a write acknowledged to a client survives a crash.
import Database from 'better-sqlite3';

export const GALLERY_FORMAT_VERSION = 1;

/** Which model made a gallery's embeddings: enrolling or searching with another one is refused. */
export interface ModelIdentity {
  /** sha256 of the model's weights and architecture (model-fingerprint.ts). */
  fingerprint: string;
  /** Embedding length. */
  dim: number;
}

export interface StoredIdentity {
  id: string;
  metadata: Record<string, unknown> | null;
  createdAt: string;
}

export interface StoredFace {
  faceId: number;
  identityId: string;
  embedding: Float32Array;
  quality: number | null;
}

export interface IdentityRow extends StoredIdentity {
  faces: number;
}

interface FaceRecord {
  face_id: number;
  identity_id: string;
  embedding: Buffer;
  quality: number | null;
}

export class GalleryStore {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS identities (
        id TEXT PRIMARY KEY, metadata TEXT, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS faces (
        face_id INTEGER PRIMARY KEY AUTOINCREMENT,
        identity_id TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL, quality REAL);
      CREATE INDEX IF NOT EXISTS faces_identity ON faces(identity_id);
    `);
    const version = this.meta('format_version');
    if (version === null) this.setMeta('format_version', String(GALLERY_FORMAT_VERSION));
    else if (Number(version) !== GALLERY_FORMAT_VERSION)
      throw new Error(`${file}: gallery format version ${version}; this catface reads version ${GALLERY_FORMAT_VERSION}`);
  }

  private meta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** The model the stored embeddings come from; null for a gallery nothing was enrolled in yet. */
  model(): ModelIdentity | null {
    const fingerprint = this.meta('model_fingerprint');
    const dim = this.meta('embedding_dim');
    return fingerprint === null || dim === null ? null : { fingerprint, dim: Number(dim) };
  }

  identity(id: string): IdentityRow | null {
    const row = this.db
      .prepare(
        'SELECT i.id, i.metadata, i.created_at, (SELECT COUNT(*) FROM faces f WHERE f.identity_id = i.id) AS faces FROM identities i WHERE i.id = ?',
      )
      .get(id) as { id: string; metadata: string | null; created_at: string; faces: number } | undefined;
    return row ? toIdentity(row) : null;
  }

  /** Identities ordered by id, `limit` from `offset`. */
  identities(offset: number, limit: number): IdentityRow[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, i.metadata, i.created_at, COUNT(f.face_id) AS faces FROM identities i
         LEFT JOIN faces f ON f.identity_id = i.id GROUP BY i.id ORDER BY i.id LIMIT ? OFFSET ?`,
      )
      .all(limit, offset) as { id: string; metadata: string | null; created_at: string; faces: number }[];
    return rows.map(toIdentity);
  }

  countIdentities(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM identities').get() as { n: number }).n;
  }

  /** Creates an identity; false when the id exists already. */
  createIdentity(id: string, metadata: Record<string, unknown> | null): boolean {
    const result = this.db
      .prepare('INSERT OR IGNORE INTO identities (id, metadata, created_at) VALUES (?, ?, ?)')
      .run(id, metadata === null ? null : JSON.stringify(metadata), new Date().toISOString());
    return result.changes === 1;
  }

  /**
   * Adds faces to an identity (created when missing) in one transaction, recording the gallery's model on the
   * first enrolment. Returns the new face ids.
   */
  addFaces(
    id: string,
    faces: { embedding: Float32Array; quality: number | null }[],
    model: ModelIdentity,
    metadata: Record<string, unknown> | null,
  ): { faceIds: number[]; created: boolean } {
    const insertFace = this.db.prepare('INSERT INTO faces (identity_id, embedding, quality) VALUES (?, ?, ?)');
    return this.db.transaction(() => {
      if (this.model() === null) {
        this.setMeta('model_fingerprint', model.fingerprint);
        this.setMeta('embedding_dim', String(model.dim));
      }
      const created = this.createIdentity(id, metadata);
      const faceIds = faces.map((f) =>
        Number(
          insertFace.run(id, Buffer.from(f.embedding.buffer, f.embedding.byteOffset, f.embedding.byteLength), f.quality).lastInsertRowid,
        ),
      );
      return { faceIds, created };
    })();
  }

  /** Deletes an identity and its faces; returns the deleted face ids, or null when there was no such identity. */
  deleteIdentity(id: string): number[] | null {
    return this.db.transaction(() => {
      const faceIds = (this.db.prepare('SELECT face_id FROM faces WHERE identity_id = ?').all(id) as { face_id: number }[]).map(
        (r) => r.face_id,
      );
      const result = this.db.prepare('DELETE FROM identities WHERE id = ?').run(id);
      return result.changes === 0 ? null : faceIds;
    })();
  }

  /** Every stored face (the in-memory matrix is rebuilt from these at start). */
  *faces(): Generator<StoredFace> {
    for (const row of this.db.prepare('SELECT face_id, identity_id, embedding, quality FROM faces ORDER BY face_id').iterate()) {
      const r = row as FaceRecord;
      const bytes = new Uint8Array(r.embedding);
      yield {
        faceId: r.face_id,
        identityId: r.identity_id,
        embedding: new Float32Array(bytes.buffer, 0, bytes.length / 4),
        quality: r.quality,
      };
    }
  }

  /** Replaces the whole content (import) in one transaction. */
  replaceAll(
    model: ModelIdentity | null,
    identities: StoredIdentity[],
    faces: { identityId: string; embedding: Float32Array; quality: number | null }[],
  ): void {
    this.db.transaction(() => {
      this.db.exec("DELETE FROM faces; DELETE FROM identities; DELETE FROM meta WHERE key IN ('model_fingerprint', 'embedding_dim');");
      if (model) {
        this.setMeta('model_fingerprint', model.fingerprint);
        this.setMeta('embedding_dim', String(model.dim));
      }
      const insertIdentity = this.db.prepare('INSERT INTO identities (id, metadata, created_at) VALUES (?, ?, ?)');
      for (const i of identities) insertIdentity.run(i.id, i.metadata === null ? null : JSON.stringify(i.metadata), i.createdAt);
      const insertFace = this.db.prepare('INSERT INTO faces (identity_id, embedding, quality) VALUES (?, ?, ?)');
      for (const f of faces)
        insertFace.run(f.identityId, Buffer.from(f.embedding.buffer, f.embedding.byteOffset, f.embedding.byteLength), f.quality);
    })();
  }

  /** SQLite's own consistency check ('ok' when the file is sound). */
  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toIdentity(row: { id: string; metadata: string | null; created_at: string; faces: number }): IdentityRow {
  return { id: row.id, metadata: row.metadata === null ? null : JSON.parse(row.metadata), createdAt: row.created_at, faces: row.faces };
}
