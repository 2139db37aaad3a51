/**
 * Hostile protobuf payloads for the API fuzzer: random bytes, truncations,
 * bit flips, the wrong message type, wrong wire types, huge varints, deep
 * nesting, invalid UTF-8, oversized and unknown fields. Deterministic for a
 * given PRNG.
 */
export type Random = () => number;

export const MUTATION_KINDS = [
  "random-bytes",
  "truncated",
  "bit-flips",
  "wrong-message",
  "wrong-wire-type",
  "huge-varint",
  "huge-length",
  "deep-nesting",
  "invalid-utf8",
  "oversized",
  "unknown-fields",
  "empty",
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

const int = (r: Random, n: number) => Math.floor(r() * n);

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const tag = (field: number, wire: number) => varint(field * 8 + wire);
const lenField = (field: number, bytes: number[]) => [...tag(field, 2), ...varint(bytes.length), ...bytes];

/**
 * Builds one payload of `kind`. `valid` is a well-formed encoding of the
 * target method's request; `other` one of another method's request.
 */
export function mutate(kind: MutationKind, r: Random, valid: Uint8Array, other: Uint8Array): Uint8Array {
  switch (kind) {
    case "random-bytes":
      return Uint8Array.from({ length: int(r, 300) }, () => int(r, 256));
    case "truncated":
      return valid.length > 1 ? valid.slice(0, 1 + int(r, valid.length - 1)) : Uint8Array.of(0x0a);
    case "bit-flips": {
      const out = Uint8Array.from(valid.length > 0 ? valid : [0x0a, 0x01, 0x41]);
      for (let i = 0; i < 1 + int(r, 4); i++) out[int(r, out.length)]! ^= 1 << int(r, 8);
      return out;
    }
    case "wrong-message":
      return other;
    case "wrong-wire-type":
      // Fields 1-4 as fixed64 / varint / fixed32 whatever they really are.
      return Uint8Array.from([...tag(1 + int(r, 4), [0, 1, 5][int(r, 3)]!), ...Array.from({ length: 8 }, () => int(r, 256))]);
    case "huge-varint":
      return Uint8Array.from([...tag(1 + int(r, 4), 0), ...Array(11).fill(0xff), 0x01]);
    case "huge-length":
      return Uint8Array.from([...tag(1 + int(r, 4), 2), 0xff, 0xff, 0xff, 0xff, 0x0f, 0x41]);
    case "deep-nesting": {
      let inner: number[] = [0x41];
      const depth = 100 + int(r, 2_000);
      for (let i = 0; i < depth; i++) inner = lenField(1 + int(r, 2), inner);
      return Uint8Array.from(inner);
    }
    case "invalid-utf8":
      return Uint8Array.from(lenField(1 + int(r, 4), [0x41, 0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]));
    case "oversized":
      return Uint8Array.from(lenField(3, Array(300 * 1024).fill(0x61)));
    case "unknown-fields":
      return Uint8Array.from([...valid, ...lenField(1000 + int(r, 5000), [1, 2, 3]), ...tag(2000, 0), 0x05]);
    case "empty":
      return new Uint8Array(0);
  }
}
