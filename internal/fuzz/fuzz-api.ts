import { create, toBinary, type DescMethod } from "@bufbuild/protobuf";
import http2 from "node:http2";
import { AuthService } from "../../gen/chat/v1/auth_service_pb.ts";
import { ChatService } from "../../gen/chat/v1/chat_service_pb.ts";
import { connectUnaryCall, grpcCall, type RawAnswer } from "./raw-rpc.ts";
import { MUTATION_KINDS, mutate, type MutationKind, type Random } from "./wire-mutations.ts";

/** One answer the contract forbids (server error, hang, or a success that stored something). */
export interface FuzzViolation {
  readonly method: string;
  readonly kind: MutationKind;
  readonly protocol: "grpc" | "connect";
  readonly code: string;
  readonly message: string;
}

export interface FuzzReport {
  readonly sent: number;
  /** Answers by code, e.g. { "3": 5120, "invalid_argument": 2011, ... }. */
  readonly codes: Record<string, number>;
  readonly violations: FuzzViolation[];
}

/** gRPC codes (numeric) and Connect names a refusal may carry: all client errors. */
const CLIENT_ERRORS = new Set([
  "3", "5", "6", "7", "8", "9", "11", "16",
  "invalid_argument", "not_found", "already_exists", "permission_denied", "resource_exhausted",
  "failed_precondition", "out_of_range", "unauthenticated",
]);
/**
 * Calls that may legitimately succeed on some mutated payload without storing
 * anything: reads, liveness, and streams (a mutated hello can still be a
 * hello; the fuzzer half-closes at once). Register is excluded from this list
 * on purpose: a random payload that is a valid registration would store a user.
 */
const HARMLESS_SUCCESS = new Set(["ListConversations", "GetPresence", "Heartbeat", "WatchPresence", "Connect", "Subscribe", "GetHistory"]);

const methods: DescMethod[] = [...ChatService.methods, ...AuthService.methods];

function validPayload(m: DescMethod): Uint8Array {
  const init: Record<string, unknown> = {};
  for (const f of m.input.fields) {
    if (f.fieldKind === "scalar" && f.scalar === 9 /* string */) init[f.localName] = f.localName.includes("Id") ? crypto.randomUUID() : "fuzz";
  }
  return toBinary(m.input, create(m.input, init as never));
}

/**
 * Sends `count` hostile payloads, spread over every RPC of the public API and
 * over gRPC (HTTP/2) and Connect (HTTP/1.1, unary only), with and without a
 * valid token, `concurrency` at a time. Every answer must be a client error
 * code (or a harmless success); anything else is a violation.
 */
export async function fuzzApi(opts: {
  url: string;
  token: string;
  count: number;
  random: Random;
  concurrency?: number;
  timeoutMs?: number;
}): Promise<FuzzReport> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const sessions = [http2.connect(opts.url), http2.connect(opts.url)];
  for (const s of sessions) s.on("error", () => undefined);
  const samples = new Map(methods.map((m) => [m, validPayload(m)]));
  const codes: Record<string, number> = {};
  const violations: FuzzViolation[] = [];
  const r = opts.random;
  let next = 0;

  async function one(i: number): Promise<void> {
    const method = methods[Math.floor(r() * methods.length)]!;
    const other = methods[Math.floor(r() * methods.length)]!;
    const kind = MUTATION_KINDS[Math.floor(r() * MUTATION_KINDS.length)]!;
    const payload = mutate(kind, r, samples.get(method)!, samples.get(other)!);
    const auth = r() < 0.7 ? `Bearer ${opts.token}` : r() < 0.5 ? "Bearer forged.token.here" : "";
    const headers: Record<string, string> = auth ? { authorization: auth } : {};
    const path = `/${method.parent.typeName}/${method.name}`;
    const unary = method.methodKind === "unary";
    const protocol = unary && r() < 0.4 ? "connect" : "grpc";
    let answer: RawAnswer;
    if (protocol === "connect") answer = await connectUnaryCall(opts.url, path, payload, headers, timeoutMs);
    else {
      let session = sessions[i % sessions.length]!;
      if (session.destroyed || session.closed) {
        session = http2.connect(opts.url);
        session.on("error", () => undefined);
        sessions[i % sessions.length] = session;
      }
      answer = await grpcCall(session, path, payload, headers, timeoutMs, !unary);
    }
    codes[answer.code] = (codes[answer.code] ?? 0) + 1;
    const success = answer.code === "0" || answer.code === "ok" || answer.code === "open-stream";
    // A stream that opened is replaced by the next one of the same device (SESSION_REPLACED).
    const replaced = (answer.code === "10" || answer.code === "aborted") && method.methodKind !== "unary";
    const allowed = CLIENT_ERRORS.has(answer.code) || replaced || (success && HARMLESS_SUCCESS.has(method.name));
    if (!allowed) violations.push({ method: method.name, kind, protocol, code: answer.code, message: answer.message });
  }

  const workers = Array.from({ length: opts.concurrency ?? 16 }, async () => {
    for (let i = next++; i < opts.count; i = next++) await one(i);
  });
  await Promise.all(workers);
  for (const s of sessions) s.close();
  return { sent: opts.count, codes, violations };
}
