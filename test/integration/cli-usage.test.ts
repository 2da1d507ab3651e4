/**
 * The built `switchboard` CLI's help and usage errors: what a person sees
 * before anything connects. No NATS needed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { run as runInProcess } from '../../src/cli/index.js';
import { run, SPAWNS_TIMEOUT_MS } from './cli-process.js';

const COMMANDS = [
  'broker',
  'bridge',
  'serve-example',
  'call',
  'ls',
  'demo',
  'up',
  'secure',
  'secure init',
] as const;

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
  const code = await runInProcess([...command.split(' '), '--help'], {
    stdout: (text) => {
      out += text;
    },
    stderr: () => {},
  });
  expect(code).toBe(0);
  return out;
}

describe('cli help', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli help - reads at 80 columns and at full width: no line too long, no word cut', async () => {
    // The binary for the top level and one command; every command, at every width, below.
    const helps = await Promise.all(
      ['', 'broker'].map(async (command) => {
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
    // Words the issue saw cut ('unti l', 'SWITCH BOARD_TLS_CA').
    const [top, broker] = helps;
    expect(words(top?.narrow ?? '')).toContain('SWITCHBOARD_TLS_CA,');
    expect(words(broker?.narrow ?? '')).toContain('until');
  });

  test('cli help - every command, at every width from 50 to 100 columns: no line too long, no word cut, no annotation touching its text', async () => {
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
});

/** The package's version, as `--version` must print it. */
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Runs a command line that must fail as a usage error: exit 2, nothing on stdout. */
async function usage(args: readonly string[], env?: Record<string, string>): Promise<string[]> {
  const result = await run(args, env);
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  return result.stderr.split('\n').filter((line) => line !== '');
}

describe('cli usage errors', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli usage - a mistake is one line naming it in plain words, then where help is', async () => {
    const cases: [string[], string][] = [
      [['call'], 'switchboard call: missing <target> (usage: switchboard call <target> [args..])'],
      [
        ['call', 'calculator.add', '--timout', '100'],
        'switchboard call: unknown option --timout (did you mean --timeout?)',
      ],
      [['call', 'calculator.add', '--user', 'u'], 'switchboard call: --user needs --pass as well'],
      [
        ['broker', '--site', 'a', '--log-level', 'warning'],
        "switchboard broker: --log-level must be one of debug, info, warn, error, silent, not 'warning' (did you mean warn?)",
      ],
      [['bridge', '--local', 'nats://a:4222'], 'switchboard bridge: --remote is required'],
      [
        ['broker', '--site', 'a', '--max-calls-in-flight', '0'],
        "switchboard broker: broker option 'inFlight.maxCalls' must be a positive integer (got 0)",
      ],
      [
        [
          'bridge',
          '--local',
          'nats://a:4222',
          '--remote',
          'nats://b:4222',
          '--max-bytes-in-flight',
          '1.5',
        ],
        "switchboard bridge: bridge option 'inFlight.maxBytes' must be a positive integer (got 1.5)",
      ],
      [
        ['broker', '--site', 'a', '--probe-after-ms', 'soon'],
        "switchboard broker: broker option 'probeAfterMs' must be 0 or more",
      ],
      [
        ['broker', '--site', 'a', '--calls-per-caller', '0'],
        "switchboard broker: broker option 'inFlight.maxCallsPerCaller' must be a positive integer (got 0)",
      ],
      [['ls', 'extra'], "switchboard ls: unexpected argument 'extra'"],
      [
        [
          'bridge',
          '--local',
          'nats://a:4222',
          '--remote',
          'nats://b:4222',
          '--remote-token',
          't',
          '--remote-user',
          'u',
          '--remote-pass',
          'p',
        ],
        'switchboard bridge: --remote-token and --remote-user exclude each other',
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => usage(args)));
    results.forEach((lines, i) => {
      const [args, line] = cases[i] as [string[], string];
      expect(lines, args.join(' ')).toEqual([
        line,
        `Run 'switchboard ${args[0]} --help' for usage.`,
      ]);
    });
  });

  test('cli usage - an unknown command, or none, is one line with the commands', async () => {
    const [typo, none] = await Promise.all([usage(['brokr', '--site', 'a']), usage([])]);
    expect(typo).toEqual([
      "switchboard: unknown command 'brokr' (did you mean broker?)",
      "Run 'switchboard --help' for usage.",
    ]);
    expect(none).toEqual([
      'switchboard: name a command: broker, bridge, serve-example, call, ls, dashboard, demo, up, secure',
      "Run 'switchboard --help' for usage.",
    ]);
  });

  test('cli usage - secure init: its mistakes point at its own help', async () => {
    const cases: [string[], string, string][] = [
      [['secure'], 'secure', 'name a command: init'],
      [['secure', 'inti'], 'secure', "unknown command 'secure inti' (did you mean init?)"],
      [['secure', 'init', '--site', 'a'], 'secure init', '--out is required'],
      [
        ['secure', 'init', '--site', 'a', '--out', '/tmp/x', '--service', 'calc', 'calc'],
        'secure init',
        "--service: 'calc' is given twice",
      ],
      [
        ['secure', 'init', '--site', 'a', '--out', '/tmp/x', '--rotte', 'broker'],
        'secure init',
        'unknown option --rotte (did you mean --rotate?)',
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => usage(args)));
    results.forEach((lines, i) => {
      const [args, command, line] = cases[i] as [string[], string, string];
      expect(lines, args.join(' ')).toEqual([
        `switchboard ${command}: ${line}`,
        `Run 'switchboard ${command} --help' for usage.`,
      ]);
    });
  });

  test('cli usage - the messages are the same in any locale', async () => {
    const lines = await usage(['ls', '--timout', '1'], {
      LANG: 'de_DE.UTF-8',
      LC_ALL: 'de_DE.UTF-8',
    });
    expect(lines[0]).toBe('switchboard ls: unknown option --timout (did you mean --timeout?)');
  });

  test('cli usage - --version prints the package version; a command keeps its own version option', async () => {
    const [version, serve] = await Promise.all([
      run(['--version']),
      run(['serve-example', '--help']),
    ]);
    expect(version).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(serve.stdout).toMatch(/^ +--service-version +Version the calculator registers with/m);
  });
});

describe('cli options checked before connecting', { timeout: SPAWNS_TIMEOUT_MS }, () => {
  test('cli options - a TLS file that cannot be read is named, with the flag that gave it', async () => {
    const [call, bridge] = await Promise.all([
      usage(['call', 'calculator.add', '--tls-ca', '/nope/ca.pem']),
      usage([
        'bridge',
        '--local',
        'nats://a:4222',
        '--remote',
        'nats://b:4222',
        '--remote-tls-ca',
        '/nope/ca.pem',
      ]),
    ]);
    expect(call[0]).toBe('switchboard call: --tls-ca: cannot read /nope/ca.pem (no such file)');
    expect(bridge[0]).toBe(
      'switchboard bridge: --remote-tls-ca: cannot read /nope/ca.pem (no such file)',
    );
  });

  test('cli options - an invalid NATS URL is refused before connecting', async () => {
    const [call, bridge] = await Promise.all([
      usage(['call', 'calculator.add', '--nats', 'htp:/foo bar']),
      usage(['bridge', '--local', 'nats://a:4222', '--remote', 'htp://b:4222']),
    ]);
    expect(call[0]).toBe(
      "switchboard call: --nats: 'htp:/foo bar' is not a NATS URL: it contains a space (expected e.g. nats://host:4222 or host:4222; schemes nats, tls, ws, wss)",
    );
    expect(bridge[0]).toMatch(
      /^switchboard bridge: --remote: 'htp:\/\/b:4222' is not a NATS URL: unknown scheme 'htp' \(/,
    );
  });

  test('cli options - export and import globs hold only what service names may, and * and ?', async () => {
    const sides = ['bridge', '--local', 'nats://a:4222', '--remote', 'nats://b:4222'];
    const [exported, imported] = await Promise.all([
      usage([...sides, '--export', 'calc[']),
      usage(sides, { SWITCHBOARD_IMPORT: 'calc*,orders.v2' }),
    ]);
    expect(exported[0]).toBe(
      "switchboard bridge: --export: 'calc[' is not a glob of service names: letters, digits, '_' and '-' (as in service names), '*' for any run of them and '?' for one",
    );
    expect(imported[0]).toMatch(/^switchboard bridge: --import: 'orders\.v2' is not a glob/);
  });

  test('cli options - up names the config field of a file that cannot be read, before starting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-usage-'));
    try {
      const config = join(dir, 'mesh.yaml');
      writeFileSync(
        config,
        'sites: { a: { nats: nats://127.0.0.1:4222, tls: { ca: nope.pem } } }\nbrokers: [ { site: a } ]\n',
      );
      const result = await run(['up', config, '--host', 'h', '--dry-run']);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `switchboard up: ${config}: sites.a.tls.ca: cannot read ${join(dir, 'nope.pem')} (no such file)\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cli options - --wait-timeout is a positive number of ms', async () => {
    const lines = await usage(['broker', '--site', 'a', '--wait-timeout', '0']);
    expect(lines[0]).toBe(
      'switchboard broker: --wait-timeout: expected a positive number of milliseconds, got 0',
    );
  });

  test('cli options - broker --help gives the library default policy, least-outstanding', async () => {
    const help = (await run(['broker', '--help'], { COLUMNS: '200' })).stdout;
    const policy = help
      .slice(help.indexOf('--policy'), help.indexOf('--log-level'))
      .replace(/\s+/g, ' ');
    expect(policy).toContain('[default: least-outstanding]');
    expect(help).not.toContain('default: "round-robin"');
  });

  test('cli options - every long-running command takes --log-format', async () => {
    const helps = await Promise.all(
      ['broker', 'bridge', 'serve-example', 'up', 'demo'].map((command) =>
        run([command, '--help']),
      ),
    );
    for (const help of helps)
      expect(help.stdout).toMatch(/--log-format .*\[choices: "text", "json"\]/s);
  });
});
