/** Types of load-role.mjs, for the tests of the fault suite's analysis. */
export class CallLog {
  count: number;
  /** Starts a call; answers its sequence number (its token). */
  begin(idempotent: boolean): number;
  /** Settles call `seq` now: `code` 0 for success, `completed` 0–3. */
  settle(seq: number, code: number, completed: number): void;
  /** Writes the five columns to `path`. */
  write(path: string): void;
}
export function loadRole(
  sb: unknown,
  config: Record<string, unknown>,
  connection: Record<string, unknown>,
): Promise<{
  info: object;
  handlers: Record<string, (params: Record<string, unknown>) => unknown>;
}>;
