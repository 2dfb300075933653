// Deterministic memory for native tensors, which V8's garbage collector cannot see the size of.
// `tidy(fn)` frees every tensor created while `fn` runs, except those it returns and those marked with
// `keep`. Scopes nest: returned tensors move to the enclosing scope.

export interface Disposable {
  dispose(): void;
  isDisposed: boolean;
}

interface Tracked extends Disposable {
  kept?: boolean;
  /** Told when no scope owns the value any more (kept, or returned from the outermost scope). */
  untracked?(): void;
}

const scopes: Tracked[][] = [];

/** Called by every tensor at creation; false when no scope is open (nothing will free it but its owner). */
export function track(t: Tracked): boolean {
  const scope = scopes[scopes.length - 1];
  if (scope === undefined) return false;
  scope.push(t);
  return true;
}

/** Exempts `t` from every scope's clean-up; free it with `dispose()` yourself (model weights, optimiser state). */
export function keep<T extends Disposable>(t: T): T {
  (t as Tracked).kept = true;
  (t as Tracked).untracked?.();
  return t;
}

/** Makes a kept value scope-managed again (it is freed when the current scope ends, unless returned). */
export function unkeep<T extends Disposable>(t: T): T {
  (t as Tracked).kept = false;
  track(t as Tracked);
  return t;
}

function collect(value: unknown, into: Set<Tracked>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (typeof (value as Tracked).dispose === 'function' && 'isDisposed' in (value as object)) {
    into.add(value as Tracked);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, depth + 1);
  }
}

function close(scope: Tracked[], result: unknown): void {
  const returned = new Set<Tracked>();
  collect(result, returned);
  const parent = scopes[scopes.length - 1];
  const none = returned.size === 0;
  for (const t of scope) {
    if (t.kept) continue;
    if (none || !returned.has(t)) t.dispose();
    else if (parent) parent.push(t);
    else t.untracked?.();
  }
}

/**
 * Runs `fn` and frees the tensors it created, except those in its result (a tensor, or arrays, Maps and
 * plain objects holding tensors) and kept ones. `fn` must be synchronous: use `tidyAsync` for promises.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Tracked[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    close(scope, undefined);
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    throw new Error('tidy(fn): fn returned a Promise; tensors created after an await would escape the scope');
  }
  close(scope, result);
  return result;
}

/** Number of tensors the innermost scope tracks (0 outside any scope); for tests and leak hunting. */
export function trackedCount(): number {
  return scopes[scopes.length - 1]?.length ?? 0;
}

/** Frees every tensor in a value (tensor, array, Map or plain object of them). */
export function dispose(value: unknown): void {
  const found = new Set<Tracked>();
  collect(value, found);
  for (const t of found) t.dispose();
}
