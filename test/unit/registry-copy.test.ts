/**
 * A bridge half's copy of its site's registry: a listing with the registry
 * events since applied, and a bound on what events may add to it.
 */
import { describe, expect, test } from 'vitest';
import {
  MAX_ADDED_BY_EVENTS,
  MAX_BYTES_ADDED_BY_EVENTS,
  RegistryCopy,
} from '../../src/bridge/registry-copy.js';
import type { InstanceEvent } from '../../src/core/index.js';
import { viewSize } from '../../src/protocol/index.js';
import { blobFilling, instanceView } from '../support/memory-site.js';

const view = (id: string, service = 'calc') => instanceView(id, { service });
const up = (id: string, service = 'calc'): InstanceEvent => ({
  kind: 'up',
  service,
  id,
  site: 'a',
  view: view(id, service),
});
const down = (id: string, service = 'calc'): InstanceEvent => ({
  kind: 'down',
  service,
  id,
  site: 'a',
});
const ids = (views: { id: string }[]) => views.map((v) => v.id);

describe('registry copy', () => {
  test('registry copy - starts from a listing; up and down events change it, by service', () => {
    const copy = new RegistryCopy([view('i1'), view('j1', 'echo')]);
    expect(copy.apply(up('i2'))).toBe(true);
    expect(copy.apply(down('j1', 'echo'))).toBe(true);
    expect(ids(copy.instances('calc'))).toEqual(['i1', 'i2']);
    expect(copy.instances('echo')).toEqual([]);
    expect(ids(copy.all())).toEqual(['i1', 'i2']);
    // A down of an unknown instance, an up without a view and a resumed change nothing.
    expect(copy.apply(down('nobody', 'ghost'))).toBe(true);
    expect(copy.apply({ kind: 'up', service: 'calc', id: 'i3', site: 'a' })).toBe(true);
    expect(copy.apply({ kind: 'resumed', service: 'calc', id: 'i1', site: 'a' })).toBe(true);
    expect(ids(copy.all())).toEqual(['i1', 'i2']);
  });

  test('registry copy - an up of a known instance replaces its view; a lookup replaces a service', () => {
    const copy = new RegistryCopy([view('i1')]);
    copy.apply({ ...up('i1'), view: instanceView('i1', { service: 'calc', version: '2.0.0' }) });
    expect(copy.instances('calc').map((i) => i.version)).toEqual(['2.0.0']);
    copy.set('calc', [view('k1'), view('k2')]);
    expect(ids(copy.instances('calc'))).toEqual(['k1', 'k2']);
    copy.set('calc', []);
    expect(copy.all()).toEqual([]);
  });

  test(`registry copy - events add at most ${MAX_ADDED_BY_EVENTS} instances between listings`, () => {
    const copy = new RegistryCopy([view('listed')]);
    for (let i = 0; i < MAX_ADDED_BY_EVENTS; i++) expect(copy.apply(up(`i${i}`))).toBe(true);
    expect(copy.apply(up('one-more'))).toBe(false);
    expect(copy.instances('calc')).toHaveLength(MAX_ADDED_BY_EVENTS + 1);
    // Known instances and goings are still applied.
    expect(copy.apply(up('i0'))).toBe(true);
    expect(copy.apply(down('i0'))).toBe(true);
    expect(copy.instances('calc')).toHaveLength(MAX_ADDED_BY_EVENTS);
  });

  test(`registry copy - events bring at most ${MAX_BYTES_ADDED_BY_EVENTS} bytes of views between listings, replaced views included`, () => {
    const big = (id: string, version = '1.0.0'): InstanceEvent => ({
      ...up(id),
      view: instanceView(id, { service: 'calc', version, metadata: { blob: 'x'.repeat(1 << 20) } }),
    });
    const fits = Math.floor(MAX_BYTES_ADDED_BY_EVENTS / viewSize(big('b00').view!));
    expect(fits).toBe(15);
    const copy = new RegistryCopy([]);
    for (let i = 0; i < fits - 1; i++)
      expect(copy.apply(big(`b${String(i).padStart(2, '0')}`))).toBe(true);
    // The same instance again: no new instance, but its bytes count.
    expect(copy.apply(big('b00'))).toBe(true);
    expect(copy.apply(big('b99'))).toBe(false);
    // A refused view replaces nothing.
    expect(copy.apply(big('b00', '2.0.0'))).toBe(false);
    expect(copy.get('calc', 'b00')?.version).toBe('1.0.0');
    expect(copy.instances('calc')).toHaveLength(fits - 1);
    // Small views still fit in what is left; goings are always applied.
    expect(copy.apply(up('small'))).toBe(true);
    expect(copy.apply(down('b00'))).toBe(true);
    expect(copy.instances('calc')).toHaveLength(fits - 1);
  });

  test('registry copy - a view seen again counts no new instance', () => {
    const copy = new RegistryCopy([]);
    expect(copy.apply(up('again'))).toBe(true);
    for (let i = 0; i < MAX_ADDED_BY_EVENTS; i++) copy.apply(up('again'));
    for (let i = 1; i < MAX_ADDED_BY_EVENTS; i++) expect(copy.apply(up(`n${i}`))).toBe(true);
    expect(copy.apply(up('one-more'))).toBe(false);
  });

  test('registry copy - views adding up to exactly the byte bound are all taken', () => {
    const sized = (id: string): InstanceEvent => {
      const bare = instanceView(id, { service: 'calc' });
      const blob = blobFilling(bare, MAX_BYTES_ADDED_BY_EVENTS / 16);
      return { ...up(id), view: { ...bare, metadata: { blob } } };
    };
    expect(viewSize(sized('e00').view!)).toBe(MAX_BYTES_ADDED_BY_EVENTS / 16);
    const copy = new RegistryCopy([]);
    for (let i = 0; i < 16; i++)
      expect(copy.apply(sized(`e${String(i).padStart(2, '0')}`))).toBe(true);
    expect(copy.apply(up('e16'))).toBe(false);
  });
});
