/**
 * Global set-up of the scale tests: compiles the harness, whose site
 * processes (`--processes`) run its compiled script.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function buildHarness(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'scale/tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
