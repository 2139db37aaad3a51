import { Code } from "@connectrpc/connect";
import type { DeviceId } from "../domain/index.ts";
import type { Delivery, DeliverySink } from "../push/index.ts";
import type { DeviceSession } from "./device-session.ts";

/**
 * The gateway's open sessions, by device. At most one session per device:
 * a new stream for a device evicts its old one (DESIGN §5).
 */
export interface SessionHub {
  /** Registers the session; closes and returns the device's previous one, if any. */
  attach(session: DeviceSession): DeviceSession | undefined;
  /** Removes the session if it is still the device's current one. */
  detach(session: DeviceSession): void;
  get(deviceId: DeviceId): DeviceSession | undefined;
  readonly size: number;
  all(): DeviceSession[];
  /** Entry point of pushes addressed to this gateway. */
  readonly sink: DeliverySink;
}

export function createSessionHub(): SessionHub {
  const byDevice = new Map<DeviceId, DeviceSession>();

  const replaced = (old: DeviceSession) =>
    old.close({ code: Code.Aborted, reason: "SESSION_REPLACED", message: "a newer stream of this device took over" });

  return {
    attach(session) {
      const old = byDevice.get(session.identity.deviceId);
      byDevice.set(session.identity.deviceId, session);
      if (old && old !== session) replaced(old);
      return old;
    },
    detach(session) {
      if (byDevice.get(session.identity.deviceId) === session) byDevice.delete(session.identity.deviceId);
    },
    get: (deviceId) => byDevice.get(deviceId),
    get size() {
      return byDevice.size;
    },
    all: () => [...byDevice.values()],
    sink(deliveries: readonly Delivery[]) {
      for (const d of deliveries) {
        const session = byDevice.get(d.deviceId);
        if (!session) continue; // stale route: the device catches up on reconnect
        if (d.event.type === "evict") {
          // Another gateway holds the device now; only the named session goes.
          if (session.id === d.event.sessionId) {
            byDevice.delete(d.deviceId);
            replaced(session);
          }
          continue;
        }
        session.deliver(d.event);
      }
    },
  };
}
