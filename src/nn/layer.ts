// A module with one tensor in and one tensor out — what Sequential chains — that can also write its inference
// computation into an ONNX graph (`toOnnx`, the same steps as `forward`, in eval mode).
import type { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';
import type { OnnxGraph, OnnxValue } from './onnx-graph.js';

export abstract class Layer extends Module {
  abstract forward(input: Tensor): Tensor;
  /** Emits this layer's inference nodes (running statistics, no dropout) on `input`; returns the output value. */
  abstract toOnnx(g: OnnxGraph, input: OnnxValue): OnnxValue;
}
