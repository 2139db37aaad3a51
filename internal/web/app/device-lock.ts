/**
 * One tab per device: two tabs of the same profile would be the same device
 * and replace each other's stream in a loop. A Web Lock named after the
 * device is held while a tab runs the client; a second tab waits for it
 * (the first tab closing or reloading hands it over) or takes it over.
 */
export interface DeviceLock {
  /** Resolves once this tab holds the lock. */
  readonly acquired: Promise<void>;
  /** Resolves if another tab took the lock over. */
  readonly lost: Promise<void>;
  release(): void;
}

/** Requests the device's lock (`steal` takes it from another tab). Without Web Locks, holds at once. */
export function lockDevice(deviceId: string, opts: { readonly steal?: boolean } = {}): DeviceLock {
  const locks = globalThis.navigator?.locks;
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  if (!locks) return { acquired: Promise.resolve(), lost: new Promise(() => undefined), release };
  let acquired = (): void => undefined;
  const acquiredPromise = new Promise<void>((resolve) => (acquired = resolve));
  const lost = locks
    .request(`chat-device-${deviceId}`, { steal: opts.steal ?? false }, async () => {
      acquired();
      await held;
    })
    .then(
      () => new Promise<void>(() => undefined), // released by us: never "lost"
      () => undefined, // AbortError: another tab stole it
    );
  return { acquired: acquiredPromise, lost, release };
}
