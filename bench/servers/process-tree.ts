/**
 * CPU time and RSS of a process and all its descendants, read from /proc (Linux): the figures of a
 * server that runs as several processes (`herald serve --workers`). Heap is not readable from
 * outside a process, so it is reported as NaN.
 */

import { readdirSync, readFileSync } from "node:fs";
import type { ServerStats } from "./child.js";

// USER_HZ: /proc reports CPU in clock ticks, 100 per second on every Linux this runs on.
const TICK_MICROS = 1e6 / 100;
const PAGE_BYTES = 4096;

interface ProcessFigures {
  readonly parent: number;
  readonly user: number;
  readonly system: number;
  readonly rss: number;
}

function read(pid: number): ProcessFigures | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses; the fields after its last ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { parent: Number(fields[1]), user: Number(fields[11]), system: Number(fields[12]), rss: Number(fields[21]) * PAGE_BYTES };
  } catch {
    return undefined;
  }
}

export function processTreeStats(root: number): ServerStats {
  const all = new Map<number, ProcessFigures>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const figures = read(pid);
    if (figures) all.set(pid, figures);
  }
  const tree = new Set([root]);
  // Parents come before children in no particular order: repeat until nothing is added.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, figures] of all) {
      if (!tree.has(pid) && tree.has(figures.parent)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let user = 0;
  let system = 0;
  let rss = 0;
  for (const pid of tree) {
    const figures = all.get(pid);
    if (!figures) continue;
    user += figures.user;
    system += figures.system;
    rss += figures.rss;
  }
  return { rss, heapUsed: NaN, cpuUser: user * TICK_MICROS, cpuSystem: system * TICK_MICROS };
}
