/** Configuration from flags and environment variables, and what every entry point shares. */
export * from "./entry-point.js";
export * from "./flags.js";
export * from "./profile-config.js";
