import { asUserId, DomainError } from "../../domain/index.ts";
import type { AccountStore } from "../index.ts";
import { CQL, str, toDevice, toUser } from "./cassandra-statements.ts";
import type { CqlSession } from "./cql-session.ts";
import { firstWins } from "./write-versions.ts";

/**
 * Users and devices on Cassandra. Username uniqueness needs consensus, so
 * the name is claimed with a lightweight transaction (INSERT ... IF NOT
 * EXISTS, at LOCAL_SERIAL): registration is rare and off the message path.
 *
 * Order: claim the name, then write the user row. A crash in between leaves
 * a claim without a user; lookups treat it as absent, and a retry of the
 * same registration (same user id) finds its own claim and completes it,
 * which also makes a registration whose LWT timed out safe to retry.
 */
export function createCassandraAccounts(session: CqlSession): AccountStore {
  const getUser: AccountStore["getUser"] = async (id) => {
    const [row] = await session.rows("getUser", CQL.getUser, [id]);
    return row ? toUser(row) : undefined;
  };

  return {
    async createUser(user) {
      const [claim] = await session.rows("createUser", CQL.claimUsername, [user.username, user.id], {
        // An LWT is not idempotent at the driver level: a blind retry after a
        // timeout could read its own claim as someone else's. Retries go
        // through this function, which recognises its own claim.
        isIdempotent: false,
      });
      const applied = claim?.get("[applied]") === true;
      // Not applied: the existing row comes back; if it names this user, this is a retry.
      const owner = claim ? str(claim, "user_id") : "";
      if (!applied && owner !== user.id) {
        throw new DomainError("conflict", "USERNAME_TAKEN", "username is taken");
      }
      await session.rows("createUser", CQL.insertUser, [user.id, user.username, user.passwordHash, user.createdAtMs]);
    },
    async findUserByName(username) {
      const [claim] = await session.rows("findUserByName", CQL.userIdByName, [username]);
      if (!claim) return undefined;
      const user = await getUser(asUserId(str(claim, "user_id")));
      return user?.username === username ? user : undefined;
    },
    getUser,
    async createDevice(device) {
      // A retried registration of the same device id keeps the first one, like every other write.
      await session.rows("createDevice", CQL.insertDevice, [
        device.id,
        device.userId,
        device.name,
        device.createdAtMs,
        firstWins(device.createdAtMs),
      ]);
    },
    async getDevice(id) {
      const [row] = await session.rows("getDevice", CQL.getDevice, [id]);
      return row ? toDevice(row) : undefined;
    },
  };
}
