import { afterEach, describe, expect, test, vi } from 'vitest';
import yargs from 'yargs';
import { dashboardCommand } from '../../src/cli/commands/dashboard.js';
import { ENV_PREFIX, ignoreForeignEnvVars } from '../../src/cli/env.js';

/** The dashboard's options as `switchboard dashboard ARGS` parses them, under the environment stubbed. */
async function dashboardArgs(args: string[]): Promise<Record<string, unknown>> {
  const y = yargs().env(ENV_PREFIX).exitProcess(false);
  dashboardCommand.builder(y);
  y.middleware(ignoreForeignEnvVars(y, args), true);
  return (await y.parse(args)) as Record<string, unknown>;
}

describe('options from SWITCHBOARD_* variables', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('a variable named after an alias sets nothing: SWITCHBOARD_HOST (for up) leaves the dashboard on loopback', async () => {
    vi.stubEnv('SWITCHBOARD_HOST', '192.0.2.7');
    vi.stubEnv('SWITCHBOARD_PORT', '8081');
    const argv = await dashboardArgs([]);
    expect(argv).toMatchObject({ dashboardHost: '127.0.0.1', host: '127.0.0.1' });
    expect(argv['dashboard-host']).toBe('127.0.0.1');
    expect(argv).toMatchObject({ dashboardPort: 9470, port: 9470 });
  });

  test('a variable named after an alias sets nothing however yargs reads its value (08080, abc)', async () => {
    vi.stubEnv('SWITCHBOARD_PORT', '08080');
    expect(await dashboardArgs([])).toMatchObject({ dashboardPort: 9470, port: 9470 });
    vi.stubEnv('SWITCHBOARD_PORT', 'abc');
    expect(await dashboardArgs([])).toMatchObject({ dashboardPort: 9470, port: 9470 });
  });

  test("an option's own variable still sets it, whichever variable yargs read first", async () => {
    vi.stubEnv('SWITCHBOARD_HOST', '192.0.2.7');
    vi.stubEnv('SWITCHBOARD_PORT', '8081');
    vi.stubEnv('SWITCHBOARD_DASHBOARD_HOST', '0.0.0.0');
    vi.stubEnv('SWITCHBOARD_DASHBOARD_PORT', '8080');
    const argv = await dashboardArgs([]);
    expect(argv).toMatchObject({ dashboardHost: '0.0.0.0', host: '0.0.0.0' });
    expect(argv).toMatchObject({ dashboardPort: 8080, port: 8080 });
  });

  test('the alias on the command line wins, even with the same value as the variable', async () => {
    vi.stubEnv('SWITCHBOARD_HOST', '0.0.0.0');
    vi.stubEnv('SWITCHBOARD_PORT', '8081');
    const same = await dashboardArgs(['--host', '0.0.0.0', '--port=8081']);
    expect(same).toMatchObject({ dashboardHost: '0.0.0.0', dashboardPort: 8081 });
    const other = await dashboardArgs(['--host', '10.0.0.1']);
    expect(other).toMatchObject({ dashboardHost: '10.0.0.1', dashboardPort: 9470 });
  });

  test('a variable of another command is dropped; one of this command is kept', async () => {
    vi.stubEnv('SWITCHBOARD_SITE', 'other');
    vi.stubEnv('SWITCHBOARD_LOG_LEVEL', 'debug');
    const argv = await dashboardArgs([]);
    expect(argv).not.toHaveProperty('site');
    expect(argv.logLevel).toBe('debug');
  });
});
