/**
 * Branded identifiers. A plain string becomes one only through the
 * constructors below, so a device id can never be passed where a user id is
 * expected.
 */
export type UserId = string & { readonly __brand: "UserId" };
export type DeviceId = string & { readonly __brand: "DeviceId" };
export type ConversationId = string & { readonly __brand: "ConversationId" };
export type GatewayId = string & { readonly __brand: "GatewayId" };
/** Position of a message in its conversation's total order (see docs/sequencing.md). */
export type Seq = number;

export const asUserId = (s: string): UserId => s as UserId;
export const asDeviceId = (s: string): DeviceId => s as DeviceId;
export const asConversationId = (s: string): ConversationId => s as ConversationId;
export const asGatewayId = (s: string): GatewayId => s as GatewayId;

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * The 1:1 conversation id of two users: a hash of the sorted pair. Both users
 * derive the same id, so starting a chat from both sides at once cannot race.
 */
export function conversationIdFor(a: UserId, b: UserId): ConversationId {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(`${lo}\u0000${hi}`);
  return asConversationId(`c_${hex(hasher.digest()).slice(0, 32)}`);
}

/** True when the string has the shape of a conversation id. */
export const isConversationIdShape = (s: string): boolean => /^c_[0-9a-f]{32}$/.test(s);

/** Loose UUID shape check (any version), used for client message ids. */
export const isUuidShape = (s: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
