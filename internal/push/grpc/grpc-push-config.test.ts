import { describe, expect, test } from "bun:test";
import { DEFAULT_GRPC_PUSH_LINK_CONFIG, parseGrpcPushLinkUrl } from "./grpc-push-config.ts";

describe("parseGrpcPushLinkUrl", () => {
  test.each([
    ["grpc://", {}],
    ["grpc:?maxBufferedDeliveries=20000", { maxBufferedDeliveries: 20_000 }],
    ["grpc://?connectTimeoutMs=500&stallTimeoutMs=2000", { connectTimeoutMs: 500, stallTimeoutMs: 2_000 }],
  ])("%s takes the given fields over the defaults", (url, overrides) => {
    expect(parseGrpcPushLinkUrl(url)).toEqual({ ...DEFAULT_GRPC_PUSH_LINK_CONFIG, ...overrides });
  });

  test.each([
    ["not a url", /not a URL/],
    ["redis://?maxBufferedDeliveries=1", /scheme must be grpc:/],
    ["grpc://?maxBuffered=1", /unknown parameter "maxBuffered"/],
    ["grpc://?connectTimeoutMs=0", /connectTimeoutMs must be a positive integer/],
    ["grpc://?stallTimeoutMs=1.5", /stallTimeoutMs must be a positive integer/],
  ])("refuses %s", (url, problem) => {
    expect(() => parseGrpcPushLinkUrl(url)).toThrow(problem);
  });

  test("lists every problem at once", () => {
    expect(() => parseGrpcPushLinkUrl("tcp://?a=1&keepaliveMs=-1")).toThrow(
      /scheme must be grpc:.*unknown parameter "a".*keepaliveMs must be a positive integer/,
    );
  });
});
