// The approximate nearest-neighbour index a large gallery searches through instead of the exact matrix
// (chosen by measurement: bench/gallery-index.ts, README "Gallery search"). Scores are cosine similarities
// of unit vectors; ids are the gallery's face ids.
export interface ApproximateIndex {
  add(faceId: number, embedding: Float32Array): void;
  remove(faceId: number): void;
  /** Up to k nearest faces, best first. */
  search(query: Float32Array, k: number): { faceIds: number[]; scores: number[] };
}
