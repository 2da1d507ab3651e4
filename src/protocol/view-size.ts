import type { InstanceView } from './envelopes.js';

/**
 * About how many bytes an instance view takes encoded (a little more, never
 * less): its strings and a few bytes of framing per field.
 */
export function viewSize(view: InstanceView): number {
  let size = 64 + view.id.length + view.service.length + view.version.length + view.site.length;
  for (const m of view.methods) size += m.length + 3;
  for (const [k, v] of Object.entries(view.metadata)) size += k.length + v.length + 6;
  for (const p of view.path) size += p.length + 3;
  return size;
}
