/** Reads CPU time and memory of other processes from /proc (Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clkTck;

/** Clock ticks per second of /proc/<pid>/stat times. */
export function clockTicks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU time (user + system) of a process so far, in microseconds; NaN when unreadable. */
export function procCpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in bytes (VmRSS); NaN when unreadable. */
export function procRssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The CPU model name, from /proc/cpuinfo. */
export function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Machine-wide CPU time so far, in microseconds, from /proc/stat: busy (all
 * but idle and iowait) and steal (taken by the hypervisor).
 */
export function machineCpuUs() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [, ...f] = line.trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f.map(Number);
    const k = 1e6 / clockTicks();
    return {
      busy: (user + nice + system + irq + softirq) * k,
      steal: (steal ?? 0) * k,
      idle: (idle + iowait) * k,
    };
  } catch {
    return { busy: Number.NaN, steal: Number.NaN, idle: Number.NaN };
  }
}

/** Read and write system calls of a process so far (/proc/<pid>/io); NaN when unreadable. */
export function procSyscalls(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const r = /^syscr:\s+(\d+)/m.exec(io);
    const w = /^syscw:\s+(\d+)/m.exec(io);
    return { reads: Number(r?.[1]), writes: Number(w?.[1]) };
  } catch {
    return { reads: Number.NaN, writes: Number.NaN };
  }
}
