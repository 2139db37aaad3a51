import type { ChatMessage, ClientStorage, ConversationMeta, DeviceRecord, LocalSend, ReceiptRecord } from "./client-storage.ts";

/** Where the IndexedDB storage lives. */
export interface IndexedDbStorageConfig {
  /** Database name; one database per device (e.g. `chat-device-<deviceId>`). */
  readonly name: string;
}

/** What the storage is built from. */
export interface IndexedDbStorageDeps {
  /** The IndexedDB implementation (default: the browser's `indexedDB`). */
  readonly indexedDB?: IDBFactory;
}

const VERSION = 1;
const SENDS = "sends";
const MESSAGES = "messages";
const CURSORS = "cursors";
const RECEIPTS = "receipts";
const CONVERSATIONS = "conversations";
const DEVICE = "device";
const DEVICE_KEY = "device";
const BY_CLIENT_MSG_ID = "byClientMsgId";
const BY_CONVERSATION = "byConversation";

/** The schema: every store keyed so that its natural listing order is the contract's order. */
function upgrade(db: IDBDatabase): void {
  // Local sends keep an auto-increment key: key order is enqueue (FIFO) order,
  // and index entries with equal keys are ordered by it too.
  const sends = db.createObjectStore(SENDS, { autoIncrement: true });
  sends.createIndex(BY_CLIENT_MSG_ID, "clientMsgId", { unique: true });
  sends.createIndex(BY_CONVERSATION, "conversationId");
  // [conversation, seq] keys list a conversation's messages ascending by seq.
  const messages = db.createObjectStore(MESSAGES, { keyPath: ["conversationId", "seq"] });
  messages.createIndex(BY_CONVERSATION, "conversationId");
  db.createObjectStore(CURSORS, { keyPath: "conversationId" });
  const receipts = db.createObjectStore(RECEIPTS, { keyPath: ["conversationId", "userId"] });
  receipts.createIndex(BY_CONVERSATION, "conversationId");
  db.createObjectStore(CONVERSATIONS, { keyPath: "conversationId" });
  db.createObjectStore(DEVICE);
}

function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, VERSION);
    request.onupgradeneeded = () => upgrade(request.result);
    request.onsuccess = () => {
      const db = request.result;
      // Another tab upgrading the schema must not be blocked by this one.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(request.error ?? new Error(`cannot open IndexedDB ${name}`));
    request.onblocked = () => reject(new Error(`IndexedDB ${name} is blocked by another connection`));
  });
}

/** Calls `then` with a request's result; errors abort the transaction (and reject the whole call). */
function on<T>(request: IDBRequest<T>, then: (result: T) => void): void {
  request.onsuccess = () => then(request.result);
}

/** Visits every record an index cursor yields. */
function each(request: IDBRequest<IDBCursorWithValue | null>, visit: (cursor: IDBCursorWithValue) => void): void {
  request.onsuccess = () => {
    const cursor = request.result;
    if (!cursor) return;
    visit(cursor);
    cursor.continue();
  };
}

/**
 * Client storage in IndexedDB, for browsers: the outbox, messages, cursors
 * and receipts survive page reloads, so messages composed offline go out
 * after a reload too. Records are structured clones, so callers always get
 * copies.
 *
 * Every call is one transaction whose requests are chained by callbacks
 * rather than awaited: a transaction commits as soon as it has no pending
 * request, so awaiting anything else inside one would end it early.
 * Outbox writes ask for `strict` durability (flushed before the promise
 * resolves: a composed message is what the user cannot retype); the rest
 * can be refetched from the server and uses the default.
 */
export function createIndexedDbStorage(cfg: IndexedDbStorageConfig, deps: IndexedDbStorageDeps = {}): ClientStorage {
  const factory = deps.indexedDB ?? globalThis.indexedDB;
  if (!factory) throw new Error("IndexedDB is not available in this environment");
  const opening = openDatabase(factory, cfg.name);
  let closed = false;

  /**
   * Runs `body` in one transaction and resolves with what `result` returns
   * once the transaction committed (rejects if it aborted).
   */
  async function transact<T>(
    stores: readonly string[],
    mode: IDBTransactionMode,
    body: (tx: IDBTransaction) => () => T,
    durability: "default" | "strict" = "default",
  ): Promise<T> {
    if (closed) throw new Error("client storage is closed");
    const db = await opening;
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction([...stores], mode, { durability });
      const result = body(tx);
      tx.oncomplete = () => resolve(result());
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  }
  const read = <T>(store: string, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> =>
    transact([store], "readonly", (tx) => {
      let value: T;
      on(body(tx.objectStore(store)), (v) => (value = v));
      return () => value;
    });
  const write = (store: string, body: (s: IDBObjectStore) => void, durability: "default" | "strict" = "default"): Promise<void> =>
    transact([store], "readwrite", (tx) => (body(tx.objectStore(store)), () => undefined), durability);

  /** Rewrites the local send with that id, if `update` returns a new record. */
  const updateSend = (clientMsgId: string, update: (send: LocalSend) => LocalSend | undefined): Promise<void> =>
    write(
      SENDS,
      (s) =>
        each(s.index(BY_CLIENT_MSG_ID).openCursor(clientMsgId), (cursor) => {
          const next = update(cursor.value as LocalSend);
          if (next) cursor.update(next);
        }),
      "strict",
    );

  return {
    enqueueSend(send) {
      return write(
        SENDS,
        (s) =>
          on(s.index(BY_CLIENT_MSG_ID).getKey(send.clientMsgId), (key) => {
            if (key === undefined) s.add({ ...send, state: "queued" } satisfies LocalSend);
          }),
        "strict",
      );
    },
    async listOutbox() {
      const all = await read(SENDS, (s) => s.getAll() as IDBRequest<LocalSend[]>);
      return all.filter((send) => send.state === "queued");
    },
    markSendAccepted(clientMsgId, seq) {
      return updateSend(clientMsgId, (send) =>
        send.state === "failed" ? undefined : { ...send, state: "accepted", ...(seq === undefined ? {} : { seq }) },
      );
    },
    markSendFailed(clientMsgId, failure) {
      return updateSend(clientMsgId, (send) => ({ ...send, state: "failed", failure }));
    },
    listLocalSends(conversationId) {
      return read(SENDS, (s) =>
        (conversationId === undefined ? s.getAll() : s.index(BY_CONVERSATION).getAll(conversationId)) as IDBRequest<LocalSend[]>,
      );
    },
    removeLocalSend(clientMsgId) {
      return write(SENDS, (s) => each(s.index(BY_CLIENT_MSG_ID).openCursor(clientMsgId), (cursor) => cursor.delete()), "strict");
    },

    putMessages(batch) {
      if (batch.length === 0) return Promise.resolve();
      return transact([MESSAGES, SENDS], "readwrite", (tx) => {
        const messages = tx.objectStore(MESSAGES);
        const sends = tx.objectStore(SENDS).index(BY_CLIENT_MSG_ID);
        // The first copy of a seq wins, within the batch as against the store
        // (a put issued from a callback runs after every lookup issued here).
        const firsts = new Map<string, ChatMessage>();
        for (const m of batch) {
          const key = `${m.conversationId}\u0000${m.seq}`;
          if (!firsts.has(key)) firsts.set(key, m);
        }
        for (const message of firsts.values()) {
          on(messages.getKey([message.conversationId, message.seq]), (key) => {
            if (key === undefined) messages.put({ ...message });
          });
          each(sends.openCursor(message.clientMsgId), (cursor) => {
            if ((cursor.value as LocalSend).conversationId === message.conversationId) cursor.delete();
          });
        }
        return () => undefined;
      });
    },
    listMessages(conversationId) {
      // Index entries with equal keys come in primary-key order: [conversation, seq].
      return read(MESSAGES, (s) => s.index(BY_CONVERSATION).getAll(conversationId) as IDBRequest<ChatMessage[]>);
    },

    setCursor(conversationId, seq) {
      return write(CURSORS, (s) => s.put({ conversationId, seq }));
    },
    async listCursors() {
      const rows = await read(CURSORS, (s) => s.getAll() as IDBRequest<{ conversationId: string; seq: number }[]>);
      return new Map(rows.map((r) => [r.conversationId, r.seq]));
    },

    putReceipt(receipt) {
      return write(RECEIPTS, (s) =>
        on(s.get([receipt.conversationId, receipt.userId]) as IDBRequest<ReceiptRecord | undefined>, (old) => {
          s.put({
            conversationId: receipt.conversationId,
            userId: receipt.userId,
            deliveredSeq: Math.max(receipt.deliveredSeq, old?.deliveredSeq ?? 0),
            readSeq: Math.max(receipt.readSeq, old?.readSeq ?? 0),
          } satisfies ReceiptRecord);
        }),
      );
    },
    listReceipts(conversationId) {
      return read(RECEIPTS, (s) => s.index(BY_CONVERSATION).getAll(conversationId) as IDBRequest<ReceiptRecord[]>);
    },

    putConversation(meta) {
      return write(CONVERSATIONS, (s) => s.put({ ...meta }));
    },
    listConversations() {
      return read(CONVERSATIONS, (s) => s.getAll() as IDBRequest<ConversationMeta[]>);
    },

    resetConversation(conversationId) {
      return transact([MESSAGES, CURSORS, RECEIPTS], "readwrite", (tx) => {
        for (const store of [MESSAGES, RECEIPTS]) {
          each(tx.objectStore(store).index(BY_CONVERSATION).openCursor(conversationId), (cursor) => cursor.delete());
        }
        tx.objectStore(CURSORS).delete(conversationId);
        return () => undefined;
      });
    },

    putDevice(device) {
      return write(DEVICE, (s) => s.put({ ...device }, DEVICE_KEY));
    },
    getDevice() {
      return read(DEVICE, (s) => s.get(DEVICE_KEY) as IDBRequest<DeviceRecord | undefined>);
    },

    async close() {
      closed = true;
      (await opening.catch(() => undefined))?.close();
    },
  };
}
