// A minimal Python pickle reader and writer: exactly the opcodes that insightface's `.bin` verification files
// use (protocols 2–5: lists, tuples, bools, ints, bytes, Python-2 `str` read as bytes, numpy arrays and bool
// scalars). Anything else is refused with an error naming the opcode and its byte offset — never executed.
import { DataError } from '../errors.js';

/** A numpy array decoded from a pickle: dtype like 'bool', 'uint8', 'int64', 'float32'; C-order data. */
export class NdArray {
  constructor(
    readonly dtype: string,
    readonly shape: number[],
    readonly data: Buffer,
  ) {}

  /** The elements as JS numbers (bools as 0/1). */
  toNumbers(): number[] {
    const spec = NUMPY_DTYPES[this.dtype];
    const n = this.data.length / spec.bytes;
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(spec.read(this.data, i * spec.bytes));
    return out;
  }
}

/** A Python tuple (kept distinct from a list so writers can reproduce it). */
export class PyTuple extends Array<PickleValue> {}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | NdArray
  | PyGlobal
  | PyDtype;

/** A reference to a Python callable or class (`module.name`), resolved only for the numpy names we know. */
class PyGlobal {
  constructor(readonly name: string) {}
}

class PyDtype {
  constructor(
    public name: string,
    public littleEndian = true,
  ) {}
}

interface DtypeSpec {
  bytes: number;
  read(b: Buffer, o: number): number;
}

const NUMPY_DTYPES: Record<string, DtypeSpec> = {
  bool: { bytes: 1, read: (b, o) => (b[o] ? 1 : 0) },
  uint8: { bytes: 1, read: (b, o) => b.readUInt8(o) },
  int8: { bytes: 1, read: (b, o) => b.readInt8(o) },
  int16: { bytes: 2, read: (b, o) => b.readInt16LE(o) },
  int32: { bytes: 4, read: (b, o) => b.readInt32LE(o) },
  int64: { bytes: 8, read: (b, o) => Number(b.readBigInt64LE(o)) },
  float32: { bytes: 4, read: (b, o) => b.readFloatLE(o) },
  float64: { bytes: 8, read: (b, o) => b.readDoubleLE(o) },
};

const DTYPE_CODES: Record<string, string> = {
  b1: 'bool',
  u1: 'uint8',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  f4: 'float32',
  f8: 'float64',
};

function dtypeFromCode(code: string, where: string): PyDtype {
  const littleEndian = !code.startsWith('>');
  const name = DTYPE_CODES[code.replace(/^[<>|=]/, '')];
  if (!name) throw new DataError(where, `unsupported numpy dtype '${code}' (supported: ${Object.keys(DTYPE_CODES).join(', ')})`);
  return new PyDtype(name, littleEndian);
}

const NUMPY_RECONSTRUCT = new Set(['numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct']);
const NUMPY_FROMBUFFER = new Set(['numpy.core.numeric._frombuffer', 'numpy._core.numeric._frombuffer']);
const BYTES_CONSTRUCTORS = new Set(['__builtin__.bytes', 'builtins.bytes', '__builtin__.bytearray', 'builtins.bytearray']);
const NUMPY_SCALAR = new Set(['numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar']);

/** An ndarray under construction (between REDUCE and BUILD). */
class PendingArray {}

function toBuffer(value: PickleValue, where: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'latin1');
  throw new DataError(where, `expected bytes in numpy data, got ${typeof value}`);
}

function swapIfBigEndian(data: Buffer, dtype: PyDtype): Buffer {
  const size = NUMPY_DTYPES[dtype.name].bytes;
  if (dtype.littleEndian || size === 1) return data;
  const out = Buffer.from(data);
  if (size === 2) out.swap16();
  else if (size === 4) out.swap32();
  else out.swap64();
  return out;
}

function callGlobal(fn: PyGlobal, args: PickleValue[], where: string): PickleValue | PendingArray {
  if (fn.name === '_codecs.encode') return Buffer.from(String(args[0]), 'latin1'); // protocol-2 bytes
  if (BYTES_CONSTRUCTORS.has(fn.name)) return args.length === 0 ? Buffer.alloc(0) : toBuffer(args[0], where); // protocol-2 b''
  if (fn.name === 'numpy.dtype') return dtypeFromCode(String(args[0]), where);
  if (NUMPY_RECONSTRUCT.has(fn.name)) return new PendingArray();
  if (NUMPY_FROMBUFFER.has(fn.name)) {
    const [buffer, dtype, shape] = args as [PickleValue, PyDtype, number[]];
    return new NdArray(dtype.name, [...shape], swapIfBigEndian(toBuffer(buffer, where), dtype));
  }
  if (NUMPY_SCALAR.has(fn.name)) {
    const dtype = args[0] as PyDtype;
    const value = NUMPY_DTYPES[dtype.name].read(swapIfBigEndian(toBuffer(args[1], where), dtype), 0);
    return dtype.name === 'bool' ? value === 1 : value;
  }
  throw new DataError(where, `refusing to call Python global '${fn.name}' (only numpy arrays/scalars and bytes are supported)`);
}

/** Decodes a pickle into JS values (bytes → Buffer, list/tuple → array, dict → Map, numpy → NdArray). */
export function readPickle(bytes: Uint8Array, where = 'pickle'): PickleValue {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new DataError(where, `truncated pickle: wanted ${n} bytes at offset ${pos}, file has ${buf.length}`);
    const at = pos;
    pos += n;
    return at;
  };
  const take = (n: number) => {
    const at = need(n);
    return buf.subarray(at, at + n);
  };
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new DataError(where, `truncated pickle: unterminated text at offset ${pos}`);
    const text = buf.toString('latin1', pos, end);
    pos = end + 1;
    return text;
  };
  const popMark = () => {
    const mark = marks.pop();
    if (mark === undefined) throw new DataError(where, `pickle has no MARK before offset ${pos}`);
    return stack.splice(mark);
  };
  const pop = () => {
    if (stack.length === 0) throw new DataError(where, `pickle stack underflow at offset ${pos}`);
    return stack.pop();
  };
  const top = () => stack[stack.length - 1];
  for (;;) {
    const opAt = pos;
    const op = buf[need(1)];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        break;
      case 0x95: // FRAME (length ignored: we read from one buffer)
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new DataError(where, `pickle ended with ${stack.length} values on the stack`);
        return stack[0] as PickleValue;
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple());
        break;
      case 0x74: // TUPLE
        stack.push(PyTuple.from(popMark() as PickleValue[]));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        if (stack.length < n) throw new DataError(where, `pickle stack underflow at offset ${opAt}`);
        stack.push(PyTuple.from(stack.splice(stack.length - n) as PickleValue[]));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x61: {
        // APPEND
        const value = pop();
        (top() as unknown[]).push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const values = popMark();
        const list = top();
        if (!Array.isArray(list)) throw new DataError(where, `APPENDS on a non-list at offset ${opAt}`);
        for (const v of values) list.push(v);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        (top() as Map<unknown, unknown>).set(key, value);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const dict = top() as Map<unknown, unknown>;
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
        break;
      }
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x4a: // BININT
        stack.push(buf.readInt32LE(need(4)));
        break;
      case 0x4b: // BININT1
        stack.push(buf.readUInt8(need(1)));
        break;
      case 0x4d: // BININT2
        stack.push(buf.readUInt16LE(need(2)));
        break;
      case 0x49: {
        // INT (protocol 0; "01"/"00" are True/False)
        const text = line();
        stack.push(text === '01' ? true : text === '00' ? false : Number.parseInt(text, 10));
        break;
      }
      case 0x8a: {
        // LONG1: little-endian two's complement
        const n = buf.readUInt8(need(1));
        const bytesLE = take(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytesLE[i]);
        if (n > 0 && bytesLE[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(buf.readDoubleBE(need(8)));
        break;
      case 0x58: // BINUNICODE
        stack.push(take(buf.readUInt32LE(need(4))).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(take(buf.readUInt8(need(1))).toString('utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(take(Number(buf.readBigUInt64LE(need(8)))).toString('utf8'));
        break;
      case 0x55: // SHORT_BINSTRING: a Python-2 str, read as bytes (encoding='bytes')
        stack.push(Buffer.from(take(buf.readUInt8(need(1)))));
        break;
      case 0x54: {
        // BINSTRING
        const n = buf.readInt32LE(need(4));
        if (n < 0) throw new DataError(where, `negative BINSTRING length at offset ${opAt}`);
        stack.push(Buffer.from(take(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        stack.push(Buffer.from(take(buf.readUInt8(need(1)))));
        break;
      case 0x42: // BINBYTES
        stack.push(Buffer.from(take(buf.readUInt32LE(need(4)))));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Buffer.from(take(Number(buf.readBigUInt64LE(need(8))))));
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x71: // BINPUT
        memo.set(buf.readUInt8(need(1)), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(buf.readUInt32LE(need(4)), top());
        break;
      case 0x70: // PUT
        memo.set(Number.parseInt(line(), 10), top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const key = op === 0x68 ? buf.readUInt8(need(1)) : op === 0x6a ? buf.readUInt32LE(need(4)) : Number.parseInt(line(), 10);
        if (!memo.has(key)) throw new DataError(where, `pickle memo key ${key} not defined (offset ${opAt})`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(new PyGlobal(`${module}.${line()}`));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        stack.push(new PyGlobal(`${pop()}.${name}`));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: {
        // NEWOBJ
        const args = pop() as PickleValue[];
        const fn = pop();
        if (!(fn instanceof PyGlobal)) throw new DataError(where, `REDUCE on a non-callable at offset ${opAt}`);
        stack.push(callGlobal(fn, args, where));
        break;
      }
      case 0x62: {
        // BUILD: numpy dtype and ndarray state
        const state = pop() as PickleValue[];
        const target = top();
        if (target instanceof PyDtype) {
          if (typeof state[1] === 'string') target.littleEndian = state[1] !== '>';
        } else if (target instanceof PendingArray) {
          const [, shape, dtype, , raw] = state as [number, number[], PyDtype, boolean, PickleValue];
          stack[stack.length - 1] = new NdArray(dtype.name, [...shape], swapIfBigEndian(toBuffer(raw, where), dtype));
        } else {
          throw new DataError(where, `BUILD on an unsupported object at offset ${opAt}`);
        }
        break;
      }
      default:
        throw new DataError(where, `unsupported pickle opcode 0x${op.toString(16)} at offset ${opAt}`);
    }
  }
}

/** How `writePickle` encodes bytes: Python 3 `bytes` (protocol 4) or Python 2 `str` (protocol 2). */
export type PickleForm = 'py3' | 'py2';

/** Encodes nested lists/tuples of bytes, bools, small ints and strings as a pickle. */
export function writePickle(value: PickleValue, form: PickleForm = 'py3'): Buffer {
  const chunks: Buffer[] = [Buffer.from([0x80, form === 'py3' ? 4 : 2])];
  const op = (...b: number[]) => chunks.push(Buffer.from(b));
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    chunks.push(b);
  };
  const encode = (v: PickleValue): void => {
    if (v === null) op(0x4e);
    else if (typeof v === 'boolean') op(v ? 0x88 : 0x89);
    else if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) {
      op(0x4a);
      const b = Buffer.alloc(4);
      b.writeInt32LE(v);
      chunks.push(b);
    } else if (typeof v === 'string') {
      const s = Buffer.from(v, 'utf8');
      op(0x58);
      u32(s.length);
      chunks.push(s);
    } else if (Buffer.isBuffer(v)) {
      if (v.length < 256) op(form === 'py3' ? 0x43 : 0x55, v.length);
      else {
        op(form === 'py3' ? 0x42 : 0x54);
        u32(v.length);
      }
      chunks.push(v);
    } else if (v instanceof PyTuple) {
      op(0x28);
      for (const item of v) encode(item);
      op(0x74);
    } else if (Array.isArray(v)) {
      op(0x5d);
      for (let i = 0; i < v.length; i += 1000) {
        op(0x28);
        for (const item of v.slice(i, i + 1000)) encode(item);
        op(0x65);
      }
    } else throw new TypeError(`writePickle: cannot encode ${typeof v}`);
  };
  encode(value);
  op(0x2e);
  return Buffer.concat(chunks);
}
