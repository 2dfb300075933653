// Every enrolled embedding as one engine tensor [capacity, D] for exact search: one matrix-vector product
// per query, run on libuv's thread pool (callOpAsync) so the event loop stays free. Rows are appended in
// place (the capacity doubles when full); a removed row is swapped with the last one. A removal while a
// search is in flight would move rows under it, so removals wait until no search is running: meanwhile
// the removed faces are tombstoned and left out of results.
import * as torch from '../torch/index.js';

export class EmbeddingMatrix {
  private matrix: torch.Tensor;
  private capacity: number;
  private count = 0;
  /** Row → face id and row → owner slot (the caller's identity index). */
  private faceOfRow = new Float64Array(0);
  private ownerOfRow = new Int32Array(0);
  private readonly rowOfFace = new Map<number, number>();
  private readonly tombstones = new Set<number>();
  private searching = 0;

  constructor(
    readonly dim: number,
    initialCapacity = 1024,
  ) {
    this.capacity = Math.max(1, initialCapacity);
    this.matrix = torch.keep(torch.zeros([this.capacity, dim]));
    this.faceOfRow = new Float64Array(this.capacity);
    this.ownerOfRow = new Int32Array(this.capacity);
  }

  /** Live rows (tombstoned ones excluded). */
  get size(): number {
    return this.count - this.tombstones.size;
  }

  has(faceId: number): boolean {
    return this.rowOfFace.has(faceId) && !this.tombstones.has(faceId);
  }

  /** The owner slot of a live face (-1 when absent). */
  owner(faceId: number): number {
    const r = this.rowOfFace.get(faceId);
    return r === undefined || this.tombstones.has(faceId) ? -1 : this.ownerOfRow[r];
  }

  /** The stored embedding of a face (a copy). */
  row(faceId: number): Float32Array | null {
    const r = this.rowOfFace.get(faceId);
    if (r === undefined || this.tombstones.has(faceId)) return null;
    return torch.tidy(() => this.matrix.narrow(0, r, 1).dataSync() as Float32Array).slice();
  }

  private grow(needed: number): void {
    let capacity = this.capacity;
    while (capacity < needed) capacity *= 2;
    if (capacity === this.capacity) return;
    const next = torch.keep(torch.zeros([capacity, this.dim]));
    torch.tidy(() => next.narrow(0, 0, this.count).copy_(this.matrix.narrow(0, 0, this.count)));
    // An in-flight search holds its own reference to the old storage, so freeing our handle is safe.
    torch.unkeep(this.matrix).dispose();
    this.matrix = next;
    const faces = new Float64Array(capacity);
    faces.set(this.faceOfRow.subarray(0, this.count));
    const owners = new Int32Array(capacity);
    owners.set(this.ownerOfRow.subarray(0, this.count));
    this.faceOfRow = faces;
    this.ownerOfRow = owners;
    this.capacity = capacity;
  }

  /** Appends rows (a [n, D] row-major block) for the given faces and owners. */
  add(faceIds: readonly number[], owners: readonly number[], embeddings: Float32Array): void {
    const n = faceIds.length;
    if (embeddings.length !== n * this.dim)
      throw new RangeError(`EmbeddingMatrix: ${n} face(s) need ${n * this.dim} values, got ${embeddings.length}`);
    this.grow(this.count + n);
    torch.tidy(() => this.matrix.narrow(0, this.count, n).copy_(torch.fromTypedArray(embeddings, [n, this.dim])));
    for (let i = 0; i < n; i++) {
      this.faceOfRow[this.count + i] = faceIds[i];
      this.ownerOfRow[this.count + i] = owners[i];
      this.rowOfFace.set(faceIds[i], this.count + i);
    }
    this.count += n;
  }

  /** Removes faces (now, or after the searches in flight finish). */
  remove(faceIds: readonly number[]): void {
    for (const id of faceIds) if (this.rowOfFace.has(id)) this.tombstones.add(id);
    if (this.searching === 0) this.compact();
  }

  private compact(): void {
    for (const id of this.tombstones) {
      const r = this.rowOfFace.get(id) as number;
      const last = this.count - 1;
      if (r !== last) {
        torch.tidy(() => this.matrix.narrow(0, r, 1).copy_(this.matrix.narrow(0, last, 1)));
        this.faceOfRow[r] = this.faceOfRow[last];
        this.ownerOfRow[r] = this.ownerOfRow[last];
        this.rowOfFace.set(this.faceOfRow[r], r);
      }
      this.rowOfFace.delete(id);
      this.count--;
    }
    this.tombstones.clear();
  }

  /**
   * Cosine scores of a unit query against every live row: `scores[i]` belongs to `faceIds[i]` / `owners[i]`.
   * Rows added during the search are not included; rows removed during it are dropped from the result.
   */
  async scores(query: Float32Array): Promise<{ scores: Float32Array; faceIds: Float64Array; owners: Int32Array }> {
    if (query.length !== this.dim) throw new RangeError(`EmbeddingMatrix: query has ${query.length} values, the gallery ${this.dim}`);
    const n = this.count;
    const faceIds = this.faceOfRow.slice(0, n);
    const owners = this.ownerOfRow.slice(0, n);
    if (n === 0) return { scores: new Float32Array(0), faceIds, owners };
    this.searching++;
    const view = this.matrix.narrow(0, 0, n);
    const q = torch.fromTypedArray(query);
    let scores: Float32Array;
    try {
      const out = (await torch.callOpAsync('aten::mv', [view, q])) as torch.Tensor;
      scores = (out.dataSync() as Float32Array).slice();
      out.dispose();
    } finally {
      view.dispose();
      q.dispose();
      this.searching--;
    }
    if (this.tombstones.size > 0) {
      for (let i = 0; i < n; i++) if (this.tombstones.has(faceIds[i])) scores[i] = Number.NEGATIVE_INFINITY;
      if (this.searching === 0) this.compact();
    }
    return { scores, faceIds, owners };
  }

  dispose(): void {
    torch.unkeep(this.matrix).dispose();
  }
}
