// A small typed schema for JSON config files: each field declares its type, default, bounds and one line of
// documentation; `parseConfig` fills defaults and rejects bad input with an error naming the field's dotted
// path ("optim.lr: expected a number > 0, got -1"). The TypeScript type of a parsed config is inferred from
// the schema, so the schema is the single place a config field is defined.

export interface FieldBase<T> {
  doc: string;
  /** Absent fields take this value; a field without a default is required. */
  default?: T;
  /** Phantom member carrying the parsed type (never set). */
  readonly _type?: T;
}

export interface NumberField extends FieldBase<number> {
  kind: 'number';
  min?: number;
  max?: number;
  /** Minimum is exclusive. */
  above?: number;
  integer?: boolean;
}
export interface StringField<S extends string = string> extends FieldBase<S> {
  kind: 'string';
  choices?: readonly S[];
}
export interface BooleanField extends FieldBase<boolean> {
  kind: 'boolean';
}
export interface NumberListField extends FieldBase<number[]> {
  kind: 'numbers';
  integer?: boolean;
  min?: number;
  length?: number;
  ascending?: boolean;
}
export interface StringListField extends FieldBase<string[]> {
  kind: 'strings';
  minLength?: number;
}
export interface ObjectField<S extends Schema = Schema> extends FieldBase<Infer<S>> {
  kind: 'object';
  fields: S;
}
/** A JSON value handed as is to another module's own validator (e.g. degradation parameters). */
export interface JsonField extends FieldBase<Record<string, unknown>> {
  kind: 'json';
}
/** A field that may be null (e.g. "no validation set"). */
export interface NullableField<F extends Field = Field> extends FieldBase<FieldType<F> | null> {
  kind: 'nullable';
  inner: F;
}

export type Field =
  | NumberField
  | StringField
  | BooleanField
  | NumberListField
  | StringListField
  | ObjectField
  | JsonField
  // biome-ignore lint/suspicious/noExplicitAny: recursive field types
  | NullableField<any>;
export type Schema = Record<string, Field>;

type FieldType<F> = F extends FieldBase<infer T> ? T : never;
export type Infer<S extends Schema> = { [K in keyof S]: FieldType<S[K]> };

export const number = (doc: string, options: Omit<NumberField, 'kind' | 'doc'> = {}): NumberField => ({ kind: 'number', doc, ...options });
export const int = (doc: string, options: Omit<NumberField, 'kind' | 'doc' | 'integer'> = {}): NumberField => ({
  kind: 'number',
  doc,
  integer: true,
  ...options,
});
export const string = <S extends string = string>(doc: string, options: Omit<StringField<S>, 'kind' | 'doc'> = {}): StringField<S> => ({
  kind: 'string',
  doc,
  ...options,
});
export const boolean = (doc: string, options: Omit<BooleanField, 'kind' | 'doc'> = {}): BooleanField => ({
  kind: 'boolean',
  doc,
  ...options,
});
export const numbers = (doc: string, options: Omit<NumberListField, 'kind' | 'doc'> = {}): NumberListField => ({
  kind: 'numbers',
  doc,
  ...options,
});
export const strings = (doc: string, options: Omit<StringListField, 'kind' | 'doc'> = {}): StringListField => ({
  kind: 'strings',
  doc,
  ...options,
});
/** A nested section; absent sections are filled from their fields' defaults. */
export const object = <S extends Schema>(doc: string, fields: S): ObjectField<S> => ({ kind: 'object', doc, fields });
export const json = (doc: string, options: Omit<JsonField, 'kind' | 'doc'> = {}): JsonField => ({ kind: 'json', doc, ...options });
export const nullable = <F extends Field>(inner: F, options: { default?: FieldType<F> | null } = {}): NullableField<F> => ({
  kind: 'nullable',
  doc: inner.doc,
  inner,
  ...options,
});

/**
 * A section whose fields mirror a defaults object another module owns (numbers, booleans, strings, number
 * pairs, string lists, nested objects; null for an optional string): each field is typed and named in errors,
 * unknown fields are refused, and the defaults stay that module's. Its values are that module's to check.
 */
export function sectionOf<T extends object>(doc: string, defaults: T): ObjectField & FieldBase<T> {
  const fields: Schema = {};
  for (const [key, value] of Object.entries(defaults)) {
    const what = `${doc}: ${key}`;
    if (typeof value === 'number') fields[key] = number(what, { default: value });
    else if (typeof value === 'boolean') fields[key] = boolean(what, { default: value });
    else if (typeof value === 'string') fields[key] = string(what, { default: value });
    else if (value === null) fields[key] = nullable(string(what), { default: null });
    else if (Array.isArray(value) && value.every((v) => typeof v === 'number'))
      fields[key] = numbers(what, { default: value, length: value.length });
    else if (Array.isArray(value)) fields[key] = strings(what, { default: value, minLength: 1 });
    else fields[key] = sectionOf(what, value as object);
  }
  return object(doc, fields) as ObjectField & FieldBase<T>;
}

/** A config error: `field` is the dotted path of the offending field. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly source = 'config',
  ) {
    super(`${source}: ${field}: ${problem}`);
    this.name = 'ConfigError';
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array ${JSON.stringify(value).slice(0, 60)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The closest key by edit distance, for "did you mean" hints. */
function closest(name: string, candidates: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length];
  };
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function checkNumber(field: NumberField | NumberListField, value: unknown, path: string, source: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ConfigError(path, `expected a finite number, got ${describe(value)}`, source);
  if (field.integer && !Number.isInteger(value)) throw new ConfigError(path, `expected an integer, got ${value}`, source);
  if (field.min !== undefined && value < field.min) throw new ConfigError(path, `must be ≥ ${field.min}, got ${value}`, source);
  if (field.kind === 'number') {
    if (field.above !== undefined && value <= field.above) throw new ConfigError(path, `must be > ${field.above}, got ${value}`, source);
    if (field.max !== undefined && value > field.max) throw new ConfigError(path, `must be ≤ ${field.max}, got ${value}`, source);
  }
  return value;
}

function parseField(field: Field, value: unknown, path: string, source: string): unknown {
  if (value === undefined) {
    if (field.default !== undefined) return structuredClone(field.default);
    if (field.kind === 'object') return parseObject(field.fields, {}, path, source);
    throw new ConfigError(path, `is required (${field.doc})`, source);
  }
  switch (field.kind) {
    case 'nullable':
      return value === null ? null : parseField({ ...field.inner, default: undefined } as Field, value, path, source);
    case 'number':
      return checkNumber(field, value, path, source);
    case 'boolean':
      if (typeof value !== 'boolean') throw new ConfigError(path, `expected true or false, got ${describe(value)}`, source);
      return value;
    case 'string':
      if (typeof value !== 'string') throw new ConfigError(path, `expected a string, got ${describe(value)}`, source);
      if (field.choices && !field.choices.includes(value)) {
        throw new ConfigError(path, `must be one of ${field.choices.map((c) => `'${c}'`).join(', ')}, got '${value}'`, source);
      }
      return value;
    case 'numbers': {
      if (!Array.isArray(value)) throw new ConfigError(path, `expected an array of numbers, got ${describe(value)}`, source);
      if (field.length !== undefined && value.length !== field.length) {
        throw new ConfigError(path, `expected ${field.length} numbers, got ${value.length}`, source);
      }
      const out = value.map((v, i) => checkNumber(field, v, `${path}[${i}]`, source));
      if (field.ascending && out.some((v, i) => i > 0 && v <= out[i - 1]))
        throw new ConfigError(path, `must be strictly increasing, got [${out}]`, source);
      return out;
    }
    case 'strings': {
      if (!Array.isArray(value)) throw new ConfigError(path, `expected an array of strings, got ${describe(value)}`, source);
      value.forEach((v, i) => {
        if (typeof v !== 'string' || v === '')
          throw new ConfigError(`${path}[${i}]`, `expected a non-empty string, got ${describe(v)}`, source);
      });
      if (field.minLength !== undefined && value.length < field.minLength) {
        throw new ConfigError(path, `needs at least ${field.minLength} entries, got ${value.length}`, source);
      }
      return [...value];
    }
    case 'json':
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new ConfigError(path, `expected an object, got ${describe(value)}`, source);
      return structuredClone(value);
    case 'object':
      return parseObject(field.fields, value, path, source);
  }
}

function parseObject(schema: Schema, value: unknown, path: string, source: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(path || '(top level)', `expected an object, got ${describe(value)}`, source);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key.startsWith('$') || key === 'comment') continue; // "$schema", "comment": documentation in the file
    if (!(key in schema)) {
      const hint = closest(key, Object.keys(schema));
      throw new ConfigError(path ? `${path}.${key}` : key, `unknown field${hint ? ` (did you mean '${hint}'?)` : ''}`, source);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) out[key] = parseField(field, record[key], path ? `${path}.${key}` : key, source);
  return out;
}

/** Validates `value` against `schema`, fills defaults, and returns the typed config (a fresh object). */
export function parseConfig<S extends Schema>(schema: S, value: unknown, source = 'config'): Infer<S> {
  return parseObject(schema, value, '', source) as Infer<S>;
}

/** The defaults of a schema as a config object (fields without defaults are left out). */
export function schemaDefaults(schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    if (field.kind === 'object') out[key] = schemaDefaults(field.fields);
    else if (field.default !== undefined) out[key] = structuredClone(field.default);
  }
  return out;
}

/** One line per field: `path  type  default  doc` — the reference printed by `catface train --schema`. */
/** `, 0–1024`, `, > 0 and ≤ 100` … for numeric fields; '' for the rest. */
function describeRange(field: Field): string {
  if (field.kind !== 'number' && field.kind !== 'numbers') return '';
  const low = field.kind === 'number' && field.above !== undefined ? `> ${field.above}` : field.min !== undefined ? `≥ ${field.min}` : '';
  const max = field.kind === 'number' ? field.max : undefined;
  if (field.kind === 'number' && field.min !== undefined && max !== undefined) return `, ${field.min}–${max}`;
  return low || max !== undefined ? `, ${[low, max !== undefined ? `≤ ${max}` : ''].filter(Boolean).join(' and ')}` : '';
}

export function describeSchema(schema: Schema, prefix = ''): string[] {
  const lines: string[] = [];
  for (const [key, field] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (field.kind === 'object') {
      lines.push(`${path}  — ${field.doc}`);
      lines.push(...describeSchema(field.fields, path));
      continue;
    }
    const type =
      field.kind === 'nullable'
        ? `${field.inner.kind} | null`
        : field.kind === 'string' && field.choices
          ? field.choices.join('|')
          : field.kind;
    const fallback = field.default === undefined ? 'required' : `default ${JSON.stringify(field.default)}`;
    const range = describeRange(field.kind === 'nullable' ? field.inner : field);
    lines.push(`${path}  (${type}${range}, ${fallback})  ${field.doc}`);
  }
  return lines;
}
