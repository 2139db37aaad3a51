export * from "./ids.ts";
export * from "./model.ts";
export * from "./errors.ts";
export * from "./clock.ts";
export * from "./manual-clock.ts";
export * from "./slots.ts";
export * from "./sleep.ts";
export * from "./sweep.ts";
