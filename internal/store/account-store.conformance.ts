import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { DomainError, type Device, type User } from "../domain/index.ts";
import type { AccountStore } from "./message-store.ts";
import { uniqueDevice, uniqueUser, type StoreFixture } from "./store-fixture.ts";

function newUser(createdAtMs = 1_000): User {
  const id = uniqueUser("user");
  return { id, username: `name-${id}`, passwordHash: `$argon2id$v=19$${id}`, createdAtMs };
}

function newDevice(user: User, name: string): Device {
  return { id: uniqueDevice("device"), userId: user.id, name, createdAtMs: user.createdAtMs + 1 };
}

/**
 * The AccountStore contract (internal/store/message-store.ts), run by every
 * adapter's test file. `make` is called once per case.
 */
export function describeAccountStore(name: string, make: () => Promise<StoreFixture<AccountStore>>): void {
  describe(`AccountStore conformance: ${name}`, () => {
    let fixture: StoreFixture<AccountStore>;
    let store: AccountStore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    test("a created user is found by id and by username", async () => {
      const user = newUser();
      await store.createUser(user);
      expect(await store.getUser(user.id)).toEqual(user);
      expect(await store.findUserByName(user.username)).toEqual(user);
    });

    test("a taken username rejects with conflict USERNAME_TAKEN and stores nothing", async () => {
      const first = newUser();
      const second = { ...newUser(), username: first.username };
      await store.createUser(first);
      const error = await store.createUser(second).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ kind: "conflict", reason: "USERNAME_TAKEN" });
      expect(await store.getUser(second.id)).toBeUndefined();
      expect(await store.findUserByName(first.username)).toEqual(first);
    });

    test.each([
      ["getUser", (s: AccountStore) => s.getUser(uniqueUser("nobody"))],
      ["findUserByName", (s: AccountStore) => s.findUserByName(`nobody-${crypto.randomUUID()}`)],
      ["getDevice", (s: AccountStore) => s.getDevice(uniqueDevice("nothing"))],
    ] as const)("%s of an unknown key returns undefined", async (_, lookup) => {
      expect(await lookup(store)).toBeUndefined();
    });

    test("a user's devices are each found by id", async () => {
      const user = newUser();
      await store.createUser(user);
      const devices = [newDevice(user, "phone"), newDevice(user, "laptop")];
      for (const d of devices) await store.createDevice(d);
      for (const d of devices) expect(await store.getDevice(d.id)).toEqual(d);
    });

    test("reopening keeps users and devices", async () => {
      if (!fixture.reopen) {
        console.info("skipped reopen case: this fixture has no reopen (its data does not outlive the store)");
        return;
      }
      const user = newUser();
      const device = newDevice(user, "phone");
      await store.createUser(user);
      await store.createDevice(device);
      const reopened = await fixture.reopen();
      expect(await reopened.findUserByName(user.username)).toEqual(user);
      expect(await reopened.getDevice(device.id)).toEqual(device);
    });
  });
}
