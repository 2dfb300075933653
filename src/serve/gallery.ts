// A persistent face gallery: identities with one or more enrolled embeddings and optional metadata, stored
// in SQLite (gallery-store.ts) and mirrored in memory for search (embedding-matrix.ts, rebuilt at open).
//
// An identity's score against a probe is, by `scoring`:
//   'best' (default)  the highest cosine similarity over its enrolled embeddings — robust when the enrolled
//                     faces differ (pose, age, quality);
//   'mean'            the mean of those similarities (= the probe · the mean enrolled embedding) — penalises
//                     an identity whose enrolled faces disagree, steadier when they are all good.
// Open set: a match needs score ≥ threshold; otherwise identify answers "unknown".

import type { ApproximateIndex } from './approximate-index.js';
import { EmbeddingMatrix } from './embedding-matrix.js';
import { GalleryStore, type IdentityRow, type ModelIdentity } from './gallery-store.js';

export type IdentityScoring = 'best' | 'mean';

export interface GalleryOptions {
  scoring?: IdentityScoring;
  /** Approximate index used for searches once the gallery holds at least `approximateFrom` faces. */
  approximate?: { create(dim: number): ApproximateIndex; from: number };
}

export interface Match {
  id: string;
  score: number;
  metadata: Record<string, unknown> | null;
}

/** An error a client caused: the HTTP layer maps `status` and `code` to the response. */
export class GalleryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_ID_LENGTH = 128;
// Letters, marks, digits, and a few separators; no slashes, control, format (zero-width, bidi) or surrogate characters.
const ID_PATTERN = /^[\p{L}\p{M}\p{N}_.@ -]+$/u;

/** Checks a client-chosen identity id; returns it NFC-normalised. */
export function checkIdentityId(raw: unknown): string {
  if (typeof raw !== 'string') throw new GalleryError(400, 'bad_id', 'identity id must be a string');
  const id = raw.normalize('NFC');
  const length = [...id].length;
  if (length === 0 || length > MAX_ID_LENGTH)
    throw new GalleryError(400, 'bad_id', `identity id must be 1–${MAX_ID_LENGTH} characters, got ${length}`);
  if (!ID_PATTERN.test(id) || id.trim() !== id || id === '.' || id === '..')
    throw new GalleryError(
      400,
      'bad_id',
      `identity id ${JSON.stringify(raw)} may hold only letters, digits, marks, '_', '.', '@', '-' and inner spaces`,
    );
  return id;
}

export class Gallery {
  private readonly slotOf = new Map<string, number>();
  private idOfSlot: (string | null)[] = [];
  private metadataOfSlot: (Record<string, unknown> | null)[] = [];
  private readonly freeSlots: number[] = [];
  private matrix: EmbeddingMatrix | null = null;
  private approx: ApproximateIndex | null = null;
  readonly scoring: IdentityScoring;

  private constructor(
    private readonly store: GalleryStore,
    private readonly options: GalleryOptions,
  ) {
    this.scoring = options.scoring ?? 'best';
  }

  /** Opens (or creates) a gallery file and loads its embeddings into memory. */
  static open(file: string, options: GalleryOptions = {}): Gallery {
    const gallery = new Gallery(new GalleryStore(file), options);
    gallery.load();
    return gallery;
  }

  get file(): string {
    return this.store.file;
  }

  /** The model the gallery's embeddings come from (null until the first enrolment). */
  get model(): ModelIdentity | null {
    return this.store.model();
  }

  /** 'approximate' once the gallery has grown past the approximate index's threshold. */
  get searchMode(): 'exact' | 'approximate' {
    return this.approx ? 'approximate' : 'exact';
  }

  get faceCount(): number {
    return this.matrix?.size ?? 0;
  }

  get identityCount(): number {
    return this.slotOf.size;
  }

  private load(): void {
    this.slotOf.clear();
    this.idOfSlot = [];
    this.metadataOfSlot = [];
    this.freeSlots.length = 0;
    this.matrix?.dispose();
    this.matrix = null;
    this.approx = null;
    const model = this.store.model();
    for (let offset = 0; ; offset += 10_000) {
      const rows = this.store.identities(offset, 10_000);
      for (const row of rows) this.slotFor(row.id, row.metadata);
      if (rows.length < 10_000) break;
    }
    if (!model) return;
    this.matrix = new EmbeddingMatrix(model.dim);
    const batch = 4096;
    let ids: number[] = [];
    let owners: number[] = [];
    let values = new Float32Array(batch * model.dim);
    const flush = () => {
      if (ids.length === 0) return;
      (this.matrix as EmbeddingMatrix).add(ids, owners, values.subarray(0, ids.length * model.dim));
      ids = [];
      owners = [];
      values = new Float32Array(batch * model.dim);
    };
    for (const face of this.store.faces()) {
      values.set(face.embedding, ids.length * model.dim);
      ids.push(face.faceId);
      owners.push(this.slotOf.get(face.identityId) as number);
      if (ids.length === batch) flush();
    }
    flush();
    this.maybeBuildApproximate();
  }

  private maybeBuildApproximate(): void {
    const options = this.options.approximate;
    const model = this.store.model();
    if (!options || this.approx || !model || !this.matrix || this.matrix.size < options.from) return;
    const index = options.create(model.dim);
    for (const face of this.store.faces()) index.add(face.faceId, face.embedding);
    this.approx = index;
  }

  private slotFor(id: string, metadata: Record<string, unknown> | null): number {
    const existing = this.slotOf.get(id);
    if (existing !== undefined) return existing;
    const slot = this.freeSlots.pop() ?? this.idOfSlot.length;
    this.idOfSlot[slot] = id;
    this.metadataOfSlot[slot] = metadata;
    this.slotOf.set(id, slot);
    return slot;
  }

  private checkModel(model: ModelIdentity): void {
    const mine = this.store.model();
    if (mine && (mine.fingerprint !== model.fingerprint || mine.dim !== model.dim))
      throw new GalleryError(
        409,
        'model_mismatch',
        `this gallery (${this.file}) holds embeddings of model ${mine.fingerprint.slice(0, 12)} (${mine.dim}-d); the running model is ${model.fingerprint.slice(0, 12)} (${model.dim}-d): use the gallery's model, or export and re-enrol into a new gallery`,
      );
  }

  identity(id: string): IdentityRow | null {
    return this.store.identity(checkIdentityId(id));
  }

  identities(offset = 0, limit = 100): { total: number; identities: IdentityRow[] } {
    return { total: this.store.countIdentities(), identities: this.store.identities(offset, limit) };
  }

  /** Creates an identity without faces; 409 when it exists. */
  createIdentity(rawId: unknown, metadata: Record<string, unknown> | null = null): IdentityRow {
    const id = checkIdentityId(rawId);
    if (!this.store.createIdentity(id, metadata)) throw new GalleryError(409, 'identity_exists', `identity '${id}' exists already`);
    this.slotFor(id, metadata);
    return this.store.identity(id) as IdentityRow;
  }

  /** Enrols unit embeddings for an identity (created when missing), durably, then makes them searchable. */
  enrol(
    rawId: unknown,
    faces: { embedding: Float32Array; quality: number | null }[],
    model: ModelIdentity,
    metadata: Record<string, unknown> | null = null,
  ): { identity: IdentityRow; faceIds: number[]; created: boolean } {
    const id = checkIdentityId(rawId);
    this.checkModel(model);
    for (const f of faces)
      if (f.embedding.length !== model.dim)
        throw new RangeError(`enrol: embedding has ${f.embedding.length} values, the model ${model.dim}`);
    const { faceIds, created } = this.store.addFaces(id, faces, model, metadata);
    const slot = this.slotFor(id, this.store.identity(id)?.metadata ?? null);
    this.matrix ??= new EmbeddingMatrix(model.dim);
    const block = new Float32Array(faces.length * model.dim);
    for (const [i, f] of faces.entries()) block.set(f.embedding, i * model.dim);
    this.matrix.add(
      faceIds,
      faceIds.map(() => slot),
      block,
    );
    if (this.approx) for (const [i, f] of faces.entries()) this.approx.add(faceIds[i], f.embedding);
    else this.maybeBuildApproximate();
    return { identity: this.store.identity(id) as IdentityRow, faceIds, created };
  }

  /** Deletes an identity and its faces; 404 when there is none. */
  delete(rawId: unknown): void {
    const id = checkIdentityId(rawId);
    const faceIds = this.store.deleteIdentity(id);
    if (faceIds === null) throw new GalleryError(404, 'identity_not_found', `no identity '${id}'`);
    this.matrix?.remove(faceIds);
    for (const f of faceIds) this.approx?.remove(f);
    const slot = this.slotOf.get(id);
    if (slot !== undefined) {
      this.slotOf.delete(id);
      this.idOfSlot[slot] = null;
      this.metadataOfSlot[slot] = null;
      this.freeSlots.push(slot);
    }
  }

  /** The k best identities for a unit probe embedding, best first (exact, or through the approximate index). */
  async search(probe: Float32Array, model: ModelIdentity, k = 5): Promise<Match[]> {
    this.checkModel(model);
    if (!this.matrix || this.matrix.size === 0) return [];
    const { scores, owners } = this.approx ? await this.approximateScores(probe, k) : await this.matrix.scores(probe);
    const best = new Map<number, number>();
    const sum = new Map<number, { total: number; n: number }>();
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (s === Number.NEGATIVE_INFINITY || this.idOfSlot[owners[i]] === null) continue;
      if (this.scoring === 'best') {
        const b = best.get(owners[i]);
        if (b === undefined || s > b) best.set(owners[i], s);
      } else {
        const acc = sum.get(owners[i]);
        if (acc) {
          acc.total += s;
          acc.n++;
        } else sum.set(owners[i], { total: s, n: 1 });
      }
    }
    const perIdentity: [number, number][] = this.scoring === 'best' ? [...best] : [...sum].map(([slot, { total, n }]) => [slot, total / n]);
    perIdentity.sort((a, b) => b[1] - a[1]);
    return perIdentity.slice(0, k).map(([slot, score]) => ({
      id: this.idOfSlot[slot] as string,
      score,
      metadata: this.metadataOfSlot[slot],
    }));
  }

  /** The nearest faces from the approximate index ('mean' then averages over each candidate's retrieved faces). */
  private async approximateScores(probe: Float32Array, k: number): Promise<{ scores: Float32Array; owners: Int32Array }> {
    const index = this.approx as ApproximateIndex;
    const matrix = this.matrix as EmbeddingMatrix;
    const hits = index.search(probe, Math.min(matrix.size, Math.max(4 * k, 40)));
    const scores: number[] = [];
    const owners: number[] = [];
    for (let i = 0; i < hits.faceIds.length; i++) {
      if (!matrix.has(hits.faceIds[i])) continue;
      scores.push(hits.scores[i]);
      owners.push(matrix.owner(hits.faceIds[i]));
    }
    return { scores: Float32Array.from(scores), owners: Int32Array.from(owners) };
  }

  /** SQLite's integrity check ('ok') — used by the durability tests and `GET /v1/health`. */
  integrityCheck(): string {
    return this.store.integrityCheck();
  }

  /** Everything, for export. */
  snapshot(): {
    model: ModelIdentity | null;
    identities: IdentityRow[];
    faces: { faceId: number; identityId: string; embedding: Float32Array; quality: number | null }[];
  } {
    const { identities } = this.identities(0, Number.MAX_SAFE_INTEGER);
    return { model: this.store.model(), identities, faces: [...this.store.faces()] };
  }

  /** Replaces the gallery's content (import), then reloads the in-memory matrix. */
  replace(
    model: ModelIdentity | null,
    identities: { id: string; metadata: Record<string, unknown> | null; createdAt: string }[],
    faces: { identityId: string; embedding: Float32Array; quality: number | null }[],
  ): void {
    for (const i of identities) checkIdentityId(i.id);
    this.store.replaceAll(model, identities, faces);
    this.load();
  }

  close(): void {
    this.matrix?.dispose();
    this.matrix = null;
    this.store.close();
  }
}
