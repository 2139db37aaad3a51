import { indexedDB as fakeIndexedDB } from "fake-indexeddb";
import { describeClientStorage } from "./client-storage.conformance.ts";
import { createIndexedDbStorage } from "./indexeddb-storage.ts";

// Bun has no IndexedDB: the suite runs on fake-indexeddb, a pure-JS
// implementation of the IndexedDB API. The browser test of the web client
// (internal/web/e2e) exercises the same storage on Chromium's IndexedDB,
// including a page reload with messages still in the outbox.
let databases = 0;

describeClientStorage(
  "indexeddb (fake-indexeddb)",
  async () => {
    const name = `chat-device-test-${++databases}`;
    let current = createIndexedDbStorage({ name }, { indexedDB: fakeIndexedDB });
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = createIndexedDbStorage({ name }, { indexedDB: fakeIndexedDB });
        return current;
      },
      cleanup: async () => {
        await new Promise<void>((resolve) => {
          const request = fakeIndexedDB.deleteDatabase(name);
          request.onsuccess = request.onerror = request.onblocked = () => resolve();
        });
      },
    };
  },
  { durable: true },
);
