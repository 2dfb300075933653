// The smallest raw training config with a trunk cache that parseTrainConfig accepts (dlib, stem frozen, a teacher).
export const TRUNK_CACHE_CONFIG = {
  outDir: 'x',
  data: { train: 'y', imageSize: 150, trunkCache: { dir: 'c', photos: 'p', faces: 'f', blocks: 0 } },
  model: { backbone: 'dlib', pretrained: 'faceapi', frozen: ['stem'] },
  loss: { lambdaTeacher: 1 },
};
