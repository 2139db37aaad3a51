import type { CheckDevice } from "./check-device.ts";
import type { Fleet } from "./fleet.ts";
import type { HistoryRecorder } from "./history-recorder.ts";
import type { Prng } from "./prng.ts";

/** How much the simulated users do. */
export interface WorkloadConfig {
  /** Messages to compose in total. */
  readonly messages: number;
  /** Spread the messages over this long; the workload also stops when it runs out. */
  readonly durationMs: number;
  /** Chance, per composed message, that some device also marks a conversation read. */
  readonly readProbability: number;
}

/** What the workload did. */
export interface WorkloadResult {
  readonly composed: number;
  readonly reads: number;
}

/**
 * Users compose messages in random conversations from random devices (a
 * device that is down, restarting, is skipped; one whose network is cut
 * composes offline, as a user would) and read now and then, sometimes up to
 * an older message than already read, which must not move "read" back.
 * Sequential on purpose: composition order is then the order recorded.
 */
export async function runWorkload(
  cfg: WorkloadConfig,
  deps: { readonly fleet: Fleet; readonly recorder: HistoryRecorder; readonly prng: Prng; readonly clock: { nowMs(): number } },
): Promise<WorkloadResult> {
  const { fleet, recorder, prng, clock } = deps;
  const startMs = clock.nowMs();
  const deadline = startMs + cfg.durationMs;
  const intervalMs = cfg.durationMs / Math.max(1, cfg.messages);
  const talkers = fleet.users.filter((u) => u.conversationIds.length > 0);
  let composed = 0;
  let reads = 0;
  if (talkers.length === 0) return { composed, reads };

  // Bounded twice: by count (a device may be down when picked) and by time.
  for (let step = 0; step < cfg.messages * 4 && composed < cfg.messages && clock.nowMs() < deadline; step++) {
    // On schedule rather than a fixed pause: time lost to slow sends is caught up.
    const dueMs = startMs + (composed + prng.next()) * intervalMs;
    await Bun.sleep(Math.max(0, dueMs - clock.nowMs()));
    const user = prng.pick(talkers);
    const conversationId = prng.pick(user.conversationIds);
    const device = prng.pick(user.devices);
    const text = `${user.username} #${composed} ${"x".repeat(prng.int(64))}`;
    const sent = await device.use((client) => client.send(conversationId, text));
    if (sent) {
      recorder.composed({ clientMsgId: sent.clientMsgId, conversationId, deviceId: device.deviceId });
      composed++;
    }
    if (prng.chance(cfg.readProbability)) {
      const reader = prng.pick(fleet.users);
      const readIn = reader.conversationIds.length > 0 ? prng.pick(reader.conversationIds) : undefined;
      if (readIn && (await markRead(prng.pick(reader.devices), readIn, prng))) reads++;
    }
  }
  return { composed, reads };
}

/** Reads up to the cursor, or (one time in four) up to an older held message. */
async function markRead(device: CheckDevice, conversationId: string, prng: Prng): Promise<boolean> {
  const done = await device.use((client) => {
    const held = client.messages(conversationId).filter((m) => m.seq !== undefined);
    if (held.length === 0) return false;
    if (prng.chance(0.25)) client.markRead(conversationId, prng.pick(held).seq);
    else client.markRead(conversationId);
    return true;
  });
  return done === true;
}
