/** Tuning of the worker side of the push (see `createGrpcPushLink`). */
export interface GrpcPushLinkConfig {
  /** Deliveries one gateway's queue holds; pushes past it are dropped. */
  readonly maxBufferedDeliveries: number;
  /** Largest stream message; a tick's coalesced pushes are split past it. */
  readonly maxDeliveriesPerMessage: number;
  /** Bound on registry lookup + connection setup, the longest a push waits to be handed over. */
  readonly connectTimeoutMs: number;
  /** A stream that does not drain within this is cut and its queue dropped. */
  readonly stallTimeoutMs: number;
  /** Reconnect backoff: full jitter over base * 2^(failures-1), capped at max. */
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** HTTP/2 ping interval on idle connections, to notice a gateway that died silently. */
  readonly keepaliveMs: number;
}

export const DEFAULT_GRPC_PUSH_LINK_CONFIG: GrpcPushLinkConfig = Object.freeze({
  maxBufferedDeliveries: 10_000,
  maxDeliveriesPerMessage: 500,
  connectTimeoutMs: 1_000,
  stallTimeoutMs: 5_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 5_000,
  keepaliveMs: 15_000,
});

const LINK_KEYS = Object.keys(DEFAULT_GRPC_PUSH_LINK_CONFIG) as (keyof GrpcPushLinkConfig)[];

/**
 * Parses `grpc://?maxBufferedDeliveries=20000&connectTimeoutMs=500`: every
 * query parameter is a {@link GrpcPushLinkConfig} field (positive integer);
 * absent ones take the defaults. Throws one error listing every problem.
 */
export function parseGrpcPushLinkUrl(url: string): GrpcPushLinkConfig {
  const problems: string[] = [];
  const parsed = parseUrl(url, problems);
  const out: Record<string, number> = { ...DEFAULT_GRPC_PUSH_LINK_CONFIG };
  for (const [key, raw] of parsed?.searchParams ?? []) {
    if (!(LINK_KEYS as string[]).includes(key)) {
      problems.push(`unknown parameter "${key}" (known: ${LINK_KEYS.join(", ")})`);
      continue;
    }
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) problems.push(`${key} must be a positive integer, got "${raw}"`);
    else out[key] = value;
  }
  throwIfAny(url, problems);
  return Object.freeze(out as unknown as GrpcPushLinkConfig);
}

function parseUrl(url: string, problems: string[]): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push("not a URL");
    return undefined;
  }
  if (parsed.protocol !== "grpc:") problems.push(`scheme must be grpc:, got ${parsed.protocol}`);
  return parsed;
}

function throwIfAny(url: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new Error(`invalid push URL ${url}: ${problems.join("; ")}`);
}
