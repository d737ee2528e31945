/** Encoder of the launch program format described in native/PROTOCOL.md §1. */

export type LaunchOp = readonly string[];

const MAGIC = Buffer.from('NSBX', 'ascii');
const FORMAT_VERSION = 1;

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value, 0);
  return buffer;
}

/** Encodes ops (each `[name, ...args]`) into the byte stream the launcher reads on fd 3. */
export function encodeProgram(ops: readonly LaunchOp[]): Buffer {
  const parts: Buffer[] = [MAGIC, u32(FORMAT_VERSION), u32(ops.length)];
  for (const op of ops) {
    if (op.length === 0) throw new Error('a launch op needs at least its name');
    parts.push(u32(op.length));
    for (const arg of op) {
      const bytes = Buffer.from(arg, 'utf8');
      parts.push(u32(bytes.length), bytes);
    }
  }
  return Buffer.concat(parts);
}
