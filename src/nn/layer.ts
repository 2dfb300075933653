// A module with one tensor in and one tensor out — what Sequential chains.
import type { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';

export abstract class Layer extends Module {
  abstract forward(input: Tensor): Tensor;
}
