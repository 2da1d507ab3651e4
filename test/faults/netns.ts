/**
 * The fault suite's network: for one run, a network namespace per site and
 * one for the bridges, joined by veth pairs with private /30 addresses
 * (root ↔ each site, bridges ↔ each site), so nothing is forwarded in the
 * root namespace and the host's iptables are never touched. A silent
 * partition is a pair of iptables DROP rules inside a site's namespace on its
 * veth to the bridges (packets vanish, no RST); healing deletes them.
 *
 * Names carry this process's pid and a counter; `close()` removes every
 * namespace and veth it made (the rules die with the namespaces), and an
 * exit hook does the same if the process ends first.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** What every name of ours starts with: `ip netns list` and `ip link` are searched for it. */
export const NAME_PREFIX = 'sbf';

/** Runs a command; rejects with its stderr in the message. */
export async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { timeout: 10_000 });
    return stdout;
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr?.trim() || error}`, {
      cause: error,
    });
  }
}

/** One site's place in the network. */
export interface SiteNet {
  readonly site: string;
  /** Its network namespace. */
  readonly ns: string;
  /** Its address on the veth to the root namespace: how this process reaches it. */
  readonly rootFacing: string;
  /** Its address on the veth to the bridges' namespace: how bridges reach it. */
  readonly bridgeFacing: string;
  /** Its end of the veth to the bridges' namespace (where a partition drops packets). */
  readonly bridgeLink: string;
}

/** The command prefix that runs a program in namespace `ns`. */
export function inNamespace(ns: string): string[] {
  return ['ip', 'netns', 'exec', ns];
}

let runs = 0;
const open = new Set<FaultNet>();
let exitHook = false;

/** A /24 of 10.64.0.0/10 that no address of the root namespace is in. */
async function freeBlock(tag: number): Promise<string> {
  const taken = await run('ip', ['-4', '-o', 'addr', 'show']);
  for (let k = 0; k < 16_384; k++) {
    const index = (tag * 31 + k) % 16_384;
    const block = `10.${64 + (index >> 8)}.${index & 255}`;
    if (!taken.includes(` ${block}.`)) return block;
  }
  throw new Error('no free /24 in 10.64.0.0/10 for the fault network');
}

/** The network of one run: see the module comment. */
export class FaultNet {
  readonly bridgesNs: string;
  readonly #sites = new Map<string, SiteNet>();
  readonly #namespaces: string[] = [];
  readonly #rootLinks: string[] = [];
  readonly #cut = new Set<string>();
  readonly #iptables: string;
  #closing: Promise<void> | undefined;

  private constructor(
    readonly tag: string,
    iptables: string,
  ) {
    this.bridgesNs = `${NAME_PREFIX}-${tag}-bridges`;
    this.#iptables = iptables;
  }

  /**
   * Makes the namespaces and links for `sites`; on failure removes what it made.
   * @param iptables the iptables command that works here (see prerequisites.ts).
   */
  static async create(sites: readonly string[], iptables = 'iptables'): Promise<FaultNet> {
    const seq = ++runs;
    const net = new FaultNet(`${process.pid.toString(36)}${seq.toString(36)}`, iptables);
    open.add(net);
    installExitHook();
    try {
      await net.#build(sites, await freeBlock(process.pid + seq));
    } catch (error) {
      await net.close().catch(() => undefined);
      throw error;
    }
    return net;
  }

  async #addNamespace(ns: string): Promise<void> {
    await run('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  async #build(sites: readonly string[], block: string): Promise<void> {
    await this.#addNamespace(this.bridgesNs);
    for (const [i, site] of sites.entries()) {
      if (!/^[a-z0-9]{1,12}$/.test(site)) throw new Error(`bad site name for a namespace: ${site}`);
      const ns = `${NAME_PREFIX}-${this.tag}-${site}`;
      await this.#addNamespace(ns);
      const link = (kind: string) => `${NAME_PREFIX}${this.tag}${kind}${i}`;
      const octet = (n: number) => `${block}.${8 * i + n}`;
      // root ↔ site: created in the root namespace, its peer moved into the site's.
      const rootEnd = link('r');
      await run('ip', [
        'link',
        'add',
        rootEnd,
        'type',
        'veth',
        'peer',
        'name',
        link('s'),
        'netns',
        ns,
      ]);
      this.#rootLinks.push(rootEnd);
      await run('ip', ['addr', 'add', `${octet(1)}/30`, 'dev', rootEnd]);
      await run('ip', ['link', 'set', rootEnd, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${octet(2)}/30`, 'dev', link('s')]);
      await run('ip', ['-n', ns, 'link', 'set', link('s'), 'up']);
      // bridges ↔ site: created in the bridges' namespace, never in the root one.
      const br = this.bridgesNs;
      await run('ip', [
        '-n',
        br,
        'link',
        'add',
        link('b'),
        'type',
        'veth',
        'peer',
        'name',
        link('x'),
        'netns',
        ns,
      ]);
      await run('ip', ['-n', br, 'addr', 'add', `${octet(5)}/30`, 'dev', link('b')]);
      await run('ip', ['-n', br, 'link', 'set', link('b'), 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${octet(6)}/30`, 'dev', link('x')]);
      await run('ip', ['-n', ns, 'link', 'set', link('x'), 'up']);
      this.#sites.set(site, {
        site,
        ns,
        rootFacing: octet(2),
        bridgeFacing: octet(6),
        bridgeLink: link('x'),
      });
    }
  }

  /** A site's place in the network. */
  site(name: string): SiteNet {
    const site = this.#sites.get(name);
    if (!site) throw new Error(`no site '${name}' in this fault network`);
    return site;
  }

  async #rules(site: string, action: '-A' | '-D'): Promise<void> {
    const { ns, bridgeLink } = this.site(site);
    const iptables = ['netns', 'exec', ns, this.#iptables, '-w', action];
    await run('ip', [...iptables, 'INPUT', '-i', bridgeLink, '-j', 'DROP']);
    await run('ip', [...iptables, 'OUTPUT', '-o', bridgeLink, '-j', 'DROP']);
  }

  /** Silently cuts `site` off from the bridges: its packets on that link are dropped both ways. */
  async cut(site: string): Promise<void> {
    if (this.#cut.has(site)) return;
    await this.#rules(site, '-A');
    this.#cut.add(site);
  }

  /** Undoes {@link cut}. */
  async heal(site: string): Promise<void> {
    if (!this.#cut.has(site)) return;
    await this.#rules(site, '-D');
    this.#cut.delete(site);
  }

  /**
   * Removes the veths and namespaces (processes still in a namespace keep it
   * alive: stop them first). Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const errors: unknown[] = [];
      for (const link of this.#rootLinks.splice(0)) {
        await run('ip', ['link', 'del', link]).catch((err: unknown) => errors.push(err));
      }
      for (const ns of this.#namespaces.splice(0).reverse()) {
        await run('ip', ['netns', 'del', ns]).catch((err: unknown) => errors.push(err));
      }
      open.delete(this);
      if (errors.length > 0) throw errors[0];
    })();
    return this.#closing;
  }

  /** Namespaces and root-namespace links of this run that still exist. */
  async leftovers(): Promise<string[]> {
    return leftoversOf(`${NAME_PREFIX}-${this.tag}-`, `${NAME_PREFIX}${this.tag}`);
  }

  /** Synchronous best-effort removal, for the exit hook. */
  removeSync(): void {
    for (const link of this.#rootLinks.splice(0)) {
      try {
        execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const ns of this.#namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}

/** Namespaces named `nsPrefix...` and root links named `linkPrefix...` that exist now. */
export async function leftoversOf(nsPrefix: string, linkPrefix: string): Promise<string[]> {
  const namespaces = (await run('ip', ['netns', 'list']))
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(nsPrefix));
  const links = (await run('ip', ['-o', 'link', 'show']))
    .split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith(linkPrefix));
  return [...namespaces, ...links];
}

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const net of open) net.removeSync();
  });
}
