/**
 * Where each site goes in the picture: in columns by bridges crossed from
 * the observer's site, in rows by name within a column. Pure: no DOM.
 */

/** A point in the picture's coordinates. */
export interface Point {
  x: number;
  y: number;
}

/** The positions, and the size of the picture. */
export interface Layout {
  positions: Map<string, Point>;
  width: number;
  height: number;
}

const COLUMN = 220;
const ROW = 130;
const MARGIN = 90;

/** Lays out `sites` (name and hops from here). */
export function layout(sites: readonly { name: string; hops: number }[]): Layout {
  const columns = new Map<number, string[]>();
  for (const site of sites) {
    const column = columns.get(site.hops) ?? [];
    column.push(site.name);
    columns.set(site.hops, column);
  }
  const depths = [...columns.keys()].sort((a, b) => a - b);
  const tallest = Math.max(1, ...[...columns.values()].map((c) => c.length));
  const height = MARGIN * 2 + (tallest - 1) * ROW;
  const positions = new Map<string, Point>();
  for (const [i, depth] of depths.entries()) {
    const names = [...(columns.get(depth) ?? [])].sort();
    const top = (height - (names.length - 1) * ROW) / 2;
    for (const [j, name] of names.entries()) {
      positions.set(name, { x: MARGIN + i * COLUMN, y: top + j * ROW });
    }
  }
  return { positions, width: MARGIN * 2 + Math.max(0, depths.length - 1) * COLUMN, height };
}
