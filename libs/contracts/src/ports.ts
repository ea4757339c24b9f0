/** The port envd listens on inside every sandbox (E2B's envd protocol fixes it; the SDK dials it). */
export const ENVD_PORT = 49983;
