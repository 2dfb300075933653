// Gradient-mode scopes: run code without building the autograd graph (inference, optimiser updates).
import { addon } from './native.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = addon.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('noGrad/enableGrad: fn must be synchronous (grad mode is per thread, not per promise)');
    }
    return result;
  } finally {
    addon.setGradEnabled(previous);
  }
}

/** Runs `fn` with autograd off: results have no grad history and no memory is kept for backward. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with autograd on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return addon.isGradEnabled();
}
