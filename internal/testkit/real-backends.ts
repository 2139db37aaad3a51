import { describe, test } from "bun:test";

/**
 * Where the real servers for the real-backend suites are. `npm test`
 * (scripts/test.sh) starts Kafka, Cassandra and Redis with
 * scripts/infra/services.sh and exports these variables.
 */
export interface RealBackends {
  /** CHAT_TEST_KAFKA: "host:port[,host:port]" */
  readonly kafka?: { readonly brokers: string[] };
  /** CHAT_TEST_CASSANDRA: "host:port" (datacenter1) */
  readonly cassandra?: { readonly contactPoints: string[]; readonly localDataCenter: string };
  /** CHAT_TEST_REDIS: "redis://host:port/db" */
  readonly redis?: { readonly url: string };
}

export type BackendName = keyof RealBackends;

export function realBackends(env: Record<string, string | undefined> = process.env): RealBackends {
  return {
    ...(env.CHAT_TEST_KAFKA ? { kafka: { brokers: env.CHAT_TEST_KAFKA.split(",") } } : {}),
    ...(env.CHAT_TEST_CASSANDRA
      ? { cassandra: { contactPoints: env.CHAT_TEST_CASSANDRA.split(","), localDataCenter: "datacenter1" } }
      : {}),
    ...(env.CHAT_TEST_REDIS ? { redis: { url: env.CHAT_TEST_REDIS } } : {}),
  };
}

/**
 * A describe block for a suite that needs real servers. When one is not
 * configured: in CI (CI=true) the suite FAILS — a real-backend suite that did
 * not run is a failure; locally it is not run, with a warning naming the variable to set.
 */
export function describeWithBackends(
  title: string,
  needs: readonly BackendName[],
  body: (backends: Required<Pick<RealBackends, (typeof needs)[number]>>) => void,
): void {
  const backends = realBackends();
  const missing = needs.filter((n) => backends[n] === undefined);
  if (missing.length === 0) {
    describe(`${title} [real ${needs.join("+")}]`, () => body(backends as never));
    return;
  }
  describeWhenAvailable(title, `needs ${missing.join(", ")} (set ${missing.map(envName).join(", ")} or run npm test)`, () => undefined);
}

/**
 * The one gate for suites that need something outside the process (servers,
 * a browser, tmux): with `missing` undefined the suite runs; otherwise under
 * CI=true it FAILS (a suite that did not run is a failure there), and locally
 * nothing is registered: a warning names the suite and what it needs (npm
 * test always provides it).
 */
export function describeWhenAvailable(title: string, missing: string | undefined, body: () => void): void {
  if (missing === undefined) {
    describe(title, body);
  } else if (process.env.CI) {
    test(`${title}: ${missing}`, () => {
      throw new Error(`suite did not run in CI: ${missing}`);
    });
  } else {
    console.warn(`[testkit] not run: ${title}: ${missing}`);
  }
}

const envName = (n: BackendName) => `CHAT_TEST_${n.toUpperCase()}`;
