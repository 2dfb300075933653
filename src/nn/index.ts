// Neural-network building blocks (torch.nn): `import * as nn from '../nn/index.js'`.
export * from './activation.js';
export * from './attention.js';
export * from './batchnorm.js';
export * from './clip.js';
export * from './containers.js';
export * from './conv.js';
export * from './dropout.js';
export * from './flatten.js';
export * from './identity.js';
export * as init from './init.js';
export * from './layer.js';
export * from './layernorm.js';
export * from './linear.js';
export * from './module.js';
export * as optim from './optim/index.js';
export * from './safetensors.js';
export * from './schedulers.js';
