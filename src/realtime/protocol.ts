// WebSocket close codes shared with clients. Application codes are 4000 + the HTTP status of the
// same condition (errors.ts `wsCloseCodeFor`), so a client can map both the same way.
export const CloseCode = {
  NORMAL: 1000,
  /** Server shutdown or restart: reconnect later. */
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  /** The client did not read fast enough and the server dropped it rather than buffer forever. */
  SLOW_CONSUMER: 4008,
  BAD_FRAME: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  RATE_LIMITED: 4429,
  INTERNAL: 4500,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
