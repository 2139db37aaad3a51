import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorReason } from "../../gen/chat/v1/types_pb.ts";
import { newDevice } from "../../internal/app/e2e/raw-device.ts";

test("the server process prints where it listens, and SIGTERM drains: streams get Reconnect(SHUTTING_DOWN), exit 0", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-main-"));
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "main.ts"), "--port=0", `--data-dir=${dataDir}`], {
    env: { ...process.env, LOG_LEVEL: "warn", RECONNECT_DELAY_MS: "500" },
    stdout: "pipe",
    stderr: "inherit",
  });
  try {
    const reader = proc.stdout.getReader();
    let out = "";
    const deadline = Date.now() + 10_000;
    while (!/listening on (http:\/\/\S+)/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
    expect(url).toBeDefined();
    const device = await newDevice(url!, "main_alice");
    await device.connect();
    proc.kill("SIGTERM");
    const reconnect = await device.waitFor((e) => e.event.case === "reconnect");
    expect(reconnect.event.case === "reconnect" && reconnect.event.value.reason).toBe(ErrorReason.SHUTTING_DOWN);
    expect(reconnect.event.case === "reconnect" && reconnect.event.value.retryAfterMs).toBeLessThan(500);
    expect(await proc.exited).toBe(0);
    await device.disconnect();
    expect(String(device.streamError)).toContain("unavailable");
  } finally {
    proc.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);
