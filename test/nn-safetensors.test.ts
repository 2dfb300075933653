// safetensors interchange with PyTorch: files written here are read by Python and the reverse, for every dtype
// safetensors and libtorch share, with metadata, scalars and empty tensors; corrupt files give errors naming the file.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSafetensors, parseSafetensors, saveSafetensors } from '../src/nn/safetensors.js';
import * as torch from '../src/torch/index.js';
import { pythonUnavailable, runPython } from './helpers/oracle.js';

const dir = mkdtempSync(join(tmpdir(), 'catface-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** One tensor per dtype with values that survive each dtype exactly (and a scalar and an empty one). */
function sample(): Record<string, torch.Tensor> {
  const base = torch.tensor([
    [-3, -1.5, 0, 0.25],
    [1, 2.5, 100, -7],
  ]);
  return {
    f32: base,
    f64: base.to('float64').mul(1 / 3),
    f16: base.to('float16'),
    bf16: base.to('bfloat16'),
    i64: torch.tensor([-(2 ** 40), 0, 7, 2 ** 50], { dtype: 'int64' }),
    i32: torch.tensor([-(2 ** 31), 5, 2 ** 31 - 1], { dtype: 'int32' }),
    i16: torch.tensor([-32768, 3, 32767], { dtype: 'int16' }),
    i8: torch.tensor([-128, 0, 127], { dtype: 'int8' }),
    u8: torch.tensor([0, 128, 255], { dtype: 'uint8' }),
    bool: torch.tensor([true, false, true], { dtype: 'bool' }),
    scalar: torch.tensor(2.5),
    empty: torch.zeros([0, 3]),
  };
}

// The Python side parses the raw layout itself (8-byte little-endian length, JSON header, data), independently of
// our reader, and compares with tensors it builds from the same literals.
const PY_EXPECTED = `
import json, struct
base = torch.tensor([[-3, -1.5, 0, 0.25], [1, 2.5, 100, -7]])
expected = {
    'f32': base, 'f64': base.double() * (1 / 3), 'f16': base.half(), 'bf16': base.bfloat16(),
    'i64': torch.tensor([-(2 ** 40), 0, 7, 2 ** 50]), 'i32': torch.tensor([-(2 ** 31), 5, 2 ** 31 - 1], dtype=torch.int32),
    'i16': torch.tensor([-32768, 3, 32767], dtype=torch.int16), 'i8': torch.tensor([-128, 0, 127], dtype=torch.int8),
    'u8': torch.tensor([0, 128, 255], dtype=torch.uint8), 'bool': torch.tensor([True, False, True]),
    'scalar': torch.tensor(2.5), 'empty': torch.zeros(0, 3),
}
`;

test('files written here are read by PyTorch: every dtype, metadata, scalar and empty tensors', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const path = join(dir, 'ours.safetensors');
  saveSafetensors(path, sample(), { format: 'pt', note: 'written by catface' });
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp')),
    [],
    'the temp file was renamed',
  );
  const result = runPython(`${PY_EXPECTED}
data = open(${JSON.stringify(path)}, 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
ok = header.pop('__metadata__') == {'format': 'pt', 'note': 'written by catface'} and (8 + n) % 8 == 0
loaded = st_io.load(${JSON.stringify(path)})
ok = ok and set(loaded) == set(expected)
for k, v in expected.items():
    ok = ok and loaded[k].dtype == v.dtype and loaded[k].shape == v.shape and torch.equal(loaded[k], v)
out['ok'] = torch.tensor([ok])
`);
  assert.equal((result.get('ok') as torch.Tensor).item(), 1, 'PyTorch read back different tensors or metadata');
});

test('files written by PyTorch are read here: every dtype, metadata, scalar and empty tensors', (t) => {
  if (pythonUnavailable) return t.skip(pythonUnavailable);
  const path = join(dir, 'theirs.safetensors');
  // A writer of its own: the metadata goes first and the tensors in reverse order, to vary the layout.
  runPython(`${PY_EXPECTED}
header, chunks, off = {'__metadata__': {'source': 'pytorch', 'epoch': '3'}}, [], 0
for k in reversed(list(expected)):
    v = expected[k].contiguous()
    raw = (v.view(torch.int16) if v.dtype == torch.bfloat16 else v).numpy().tobytes()
    dt = {torch.float32: 'F32', torch.float64: 'F64', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
          torch.int32: 'I32', torch.int16: 'I16', torch.int8: 'I8', torch.uint8: 'U8', torch.bool: 'BOOL'}[v.dtype]
    header[k] = {'dtype': dt, 'shape': list(v.shape), 'data_offsets': [off, off + len(raw)]}
    chunks.append(raw); off += len(raw)
h = json.dumps(header).encode()
open(${JSON.stringify(path)}, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(chunks))
`);
  const { tensors, metadata } = loadSafetensors(path);
  assert.deepEqual(metadata, { source: 'pytorch', epoch: '3' });
  const expected = sample();
  assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected).sort());
  for (const [name, want] of Object.entries(expected)) {
    const got = tensors.get(name) as torch.Tensor;
    assert.equal(got.dtype, want.dtype, `${name} dtype`);
    assert.deepEqual(got.shape, want.shape, `${name} shape`);
    assert.deepEqual(got.toBytes(), want.toBytes(), `${name} bytes`);
  }
});

test('non-ASCII metadata keeps the tensor data 8-byte aligned (padding counted in UTF-8 bytes)', () => {
  const path = join(dir, 'utf8.safetensors');
  for (const note of ['é', 'éé', 'ééé', '😀', 'naïve café']) {
    saveSafetensors(path, { w: torch.ones([3]) }, { note });
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + headerLength) % 8, 0, note);
    const loaded = loadSafetensors(path);
    assert.equal(loaded.metadata.note, note);
    assert.deepEqual(loaded.tensors.get('w')?.toArray(), [1, 1, 1]);
    for (const t of loaded.tensors.values()) t.dispose();
  }
});

test('corrupt files give errors that name the file and the problem', () => {
  const good = join(dir, 'good.safetensors');
  saveSafetensors(good, { a: torch.arange(0, 6).reshape(2, 3), b: torch.ones([4], { dtype: 'int64' }) });
  const bytes = readFileSync(good);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
  const variant = (name: string, content: Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const withHeader = (
    name: string,
    edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void,
  ): string => {
    const h = structuredClone(header);
    edit(h);
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return variant(name, Buffer.concat([len, json, bytes.subarray(8 + headerLength)]));
  };
  const cases: [string, RegExp][] = [
    [variant('tiny.safetensors', bytes.subarray(0, 5)), /tiny\.safetensors: too short to be a safetensors file \(5 bytes\)/],
    [
      variant('truncated.safetensors', bytes.subarray(0, bytes.length - 3)),
      /truncated\.safetensors: tensor '\w' data_offsets .* exceed the file/,
    ],
    [variant('header-cut.safetensors', bytes.subarray(0, 20)), /header-cut\.safetensors: header length \d+ exceeds the file/],
    [
      variant('huge-length.safetensors', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x7f]), bytes.subarray(8)])),
      /huge-length\.safetensors: header length .* exceeds the file/,
    ],
    [
      variant('not-json.safetensors', Buffer.concat([bytes.subarray(0, 8), Buffer.from('{"a": ['), bytes.subarray(15)])),
      /not-json\.safetensors: the JSON header does not parse/,
    ],
    [
      withHeader('bad-offsets.safetensors', (h) => {
        h.a.data_offsets = [0, 8];
      }),
      /bad-offsets\.safetensors: tensor 'a' data_offsets \[0, 8\] do not match shape \[2,3\] of F32/,
    ],
    [
      withHeader('past-end.safetensors', (h) => {
        h.b.data_offsets = [h.b.data_offsets[0] + 1000, h.b.data_offsets[1] + 1000];
      }),
      /past-end\.safetensors: tensor 'b' .* exceed the file/,
    ],
    [
      withHeader('bad-dtype.safetensors', (h) => {
        h.a.dtype = 'F8_E4M3';
      }),
      /bad-dtype\.safetensors: tensor 'a' has unsupported dtype 'F8_E4M3'/,
    ],
    [
      withHeader('bad-shape.safetensors', (h) => {
        h.a.shape = [2, -3];
      }),
      /bad-shape\.safetensors: tensor 'a' has a bad shape \[2,-3\]/,
    ],
    [
      withHeader('overlap.safetensors', (h) => {
        const size = h.b.data_offsets[1] - h.b.data_offsets[0];
        h.b.data_offsets = [h.a.data_offsets[0], h.a.data_offsets[0] + size];
      }),
      /overlap\.safetensors: tensors '\w' and '\w' overlap/,
    ],
  ];
  for (const [path, expected] of cases) assert.throws(() => loadSafetensors(path), expected, path);
  assert.throws(() => loadSafetensors(join(dir, 'missing.safetensors')), /ENOENT.*missing\.safetensors/);
  assert.throws(() => parseSafetensors(new Uint8Array(3), 'upload'), /upload: too short/);
  assert.throws(
    () => saveSafetensors(join(dir, 'c.safetensors'), { z: torch.F.complex(torch.ones([1]), torch.ones([1])) }),
    /tensor 'z' has dtype complex64/,
  );
});
