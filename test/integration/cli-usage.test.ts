/**
 * The built `switchboard` CLI's help and usage errors: what a person sees
 * before anything connects. No NATS needed.
 */
import { describe, expect, test } from 'vitest';
import { run as runInProcess } from '../../src/cli/index.js';
import { run } from './cli-process.js';

const COMMANDS = ['broker', 'bridge', 'serve-example', 'call', 'ls', 'demo', 'up'] as const;

/** The words of a text, sorted: the same at every width unless a word is cut in two. */
function words(text: string): string[] {
  return text
    .split(/\s+/)
    .filter((word) => word !== '')
    .sort();
}

/** The help of `command` (the top-level help for ''), laid out for `columns`. */
async function help(command: string, columns: number): Promise<string> {
  const result = await run([...(command === '' ? [] : [command]), '--help'], {
    COLUMNS: String(columns),
  });
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

/** The longest line of a text. */
function longest(text: string): number {
  return Math.max(...text.split('\n').map((line) => line.length));
}

/** The help of `command` from `run()` in this process, laid out for `columns` (through COLUMNS). */
async function helpInProcess(command: string, columns: number): Promise<string> {
  process.env.COLUMNS = String(columns);
  let out = '';
  const code = await runInProcess([command, '--help'], {
    stdout: (text) => {
      out += text;
    },
    stderr: () => {},
  });
  expect(code).toBe(0);
  return out;
}

describe('cli help', () => {
  test('cli help - reads at 80 columns and at full width: no line too long, no word cut', async () => {
    const helps = await Promise.all(
      ['', ...COMMANDS].map(async (command) => {
        const [narrow, wide] = await Promise.all([help(command, 80), help(command, 200)]);
        return { command, narrow, wide };
      }),
    );
    for (const { command, narrow, wide } of helps) {
      expect(longest(narrow), `${command} --help at 80 columns`).toBeLessThanOrEqual(80);
      // A wide terminal gets lines up to 100 columns, no wider: they would not read well.
      expect(longest(wide), `${command} --help at 200 columns`).toBeLessThanOrEqual(100);
      expect(longest(wide)).toBeGreaterThan(80);
      expect(words(narrow), `${command} --help: the same words at both widths`).toEqual(
        words(wide),
      );
    }
  });

  test('cli help - at every width from 50 to 100 columns, no annotation touches its text', async () => {
    const saved = process.env.COLUMNS;
    try {
      for (const command of COMMANDS) {
        const full = await helpInProcess(command, 100);
        for (let columns = 50; columns < 100; columns++) {
          const text = await helpInProcess(command, columns);
          expect(longest(text), `${command} at ${columns}`).toBeLessThanOrEqual(columns);
          expect(text, `${command} at ${columns}`).not.toMatch(
            /\S\[(?:string|number|boolean|array)\]/,
          );
          expect(words(text), `${command} at ${columns}`).toEqual(words(full));
        }
      }
    } finally {
      if (saved === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = saved;
    }
  });

  test('cli help - the words the issue saw cut are whole at 80 columns', async () => {
    const [top, broker] = await Promise.all([help('', 80), help('broker', 80)]);
    expect(words(top)).toContain('SWITCHBOARD_TLS_CA,');
    expect(words(broker)).toContain('until');
  });
});
