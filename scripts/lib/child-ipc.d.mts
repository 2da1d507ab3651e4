/** Types of child-ipc.mjs, for the TypeScript tests that spawn components. */
import type { ChildProcess } from 'node:child_process';

export interface SpawnOptions {
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  label?: string;
  /** Where the child's stdout and stderr go. @default 'inherit' */
  stdio?: 'inherit' | 'pipe' | 'ignore';
  /** Command prefix that execs node, e.g. `['ip', 'netns', 'exec', 'ns1']`. @default [] */
  wrapper?: readonly string[];
}

export interface Child<Info = Record<string, unknown>> {
  readonly label: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  readonly ready: Promise<Info>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  request<T = unknown>(cmd: string, params?: object, timeoutMs?: number): Promise<T>;
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

export const children: Map<number, Child>;
export function spawnChild<Info = Record<string, unknown>>(
  scriptPath: string,
  config: object,
  options?: SpawnOptions,
): Child<Info>;
export function killAllChildren(): void;
export function runChild(
  setup: (config: Record<string, unknown>) => Promise<{
    info?: object;
    handlers?: Record<string, (params: Record<string, unknown>) => unknown>;
  }>,
): Promise<void>;
