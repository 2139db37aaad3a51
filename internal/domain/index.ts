export * from "./ids.ts";
export * from "./model.ts";
export * from "./errors.ts";
export * from "./clock.ts";
