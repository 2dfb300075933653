// The five synthetic attributes written out by hand from facesjs parameters (SPEC §2), so that tests check
// the generator against rules rather than against the function that computes them.

/** The facesjs parameters the rules read (a FaceConfig, or a face read back from identities.json). */
export interface FaceParameters {
  fatness: number;
  nose: { id: string; size: number };
  eye: { id: string };
  hair: { id: string };
}

// facesjs 5.0.3 eye shapes drawn at most 0.42 times as high as wide.
const narrowEyes = ['eye6', 'eye7', 'eye9', 'eye16', 'eye17', 'eye18', 'eye19', 'female5', 'female6', 'female8', 'female9', 'female13'];

/** [Male, Big_Nose, Chubby, Narrow_Eyes, Bald] as 0/1. */
export function expectedAttributes(face: FaceParameters, gender: string): number[] {
  const male = gender === 'male';
  const bigNose = face.nose.size >= 0.95 || face.nose.id === 'honker' || face.nose.id === 'pinocchio';
  const chubby = face.fatness >= 0.6;
  const narrow = narrowEyes.includes(face.eye.id);
  const bald = face.hair.id === 'bald';
  return [male, bigNose, chubby, narrow, bald].map(Number);
}
