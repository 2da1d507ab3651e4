/**
 * Building the page with the DOM alone: text goes in as text nodes and
 * attribute values through `setAttribute`, never as HTML, so whatever the
 * network sends (service names, error messages, metadata) shows as it is.
 */

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | undefined>;

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attributes, children);
}

/** An SVG element with attributes and children. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  return fill(document.createElementNS(SVG_NS, tag), attributes, children);
}

/** Sets (or, for undefined, removes) attributes. Event handler attributes are refused. */
export function setAttributes(element: Element, attributes: Attributes): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (/^on/i.test(name)) throw new Error(`refusing to set the event handler attribute ${name}`);
    if (value === undefined) element.removeAttribute(name);
    else if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  }
}

/** Sets an element's text, leaving it alone when it is already that. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

function fill<E extends Element>(element: E, attributes: Attributes, children: Child[]): E {
  setAttributes(element, attributes);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** One cell of a table row: redrawn only when its signature changes. */
export interface Cell {
  /** What the cell shows, as a string: equal signatures mean nothing to redraw. */
  sig: string;
  render(cell: HTMLTableCellElement): void;
  /** A row header (`<th scope="row">`). */
  header?: boolean;
  attributes?: Attributes;
}

/** One row of a table, by key. */
export interface Row {
  key: string;
  cells: Cell[];
}

/**
 * Makes `body` show `rows`, in order, keeping the rows and cells that did
 * not change (so that focus and open disclosures stay where they are).
 * With no rows, one row says `empty`.
 */
export function syncRows(body: HTMLTableSectionElement, rows: readonly Row[], empty: string): void {
  const columns = body.parentElement?.querySelectorAll('thead th').length ?? 1;
  const all =
    rows.length > 0
      ? rows
      : [
          {
            key: '',
            cells: [
              {
                sig: empty,
                attributes: { colspan: String(columns), class: 'empty' },
                render: (cell: HTMLTableCellElement) => cell.append(empty),
              },
            ],
          },
        ];
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of Array.from(body.rows)) existing.set(row.dataset.key ?? '', row);
  let next: ChildNode | null = body.firstChild;
  for (const row of all) {
    let tr = existing.get(row.key);
    existing.delete(row.key);
    if (!tr) {
      tr = h('tr');
      tr.dataset.key = row.key;
    }
    if (tr === next) next = tr.nextSibling;
    else body.insertBefore(tr, next);
    syncCells(tr, row.cells);
  }
  for (const stale of existing.values()) stale.remove();
}

function syncCells(tr: HTMLTableRowElement, cells: readonly Cell[]): void {
  for (const [i, cell] of cells.entries()) {
    let td = tr.cells[i];
    const tag = cell.header ? 'TH' : 'TD';
    if (!td || td.tagName !== tag) {
      const fresh = cell.header ? h('th', { scope: 'row' }) : h('td');
      if (td) td.replaceWith(fresh);
      else tr.append(fresh);
      td = fresh;
    }
    if (td.dataset.sig === cell.sig) continue;
    td.replaceChildren();
    if (cell.attributes) setAttributes(td, cell.attributes);
    cell.render(td);
    td.dataset.sig = cell.sig;
  }
  while (tr.cells.length > cells.length) tr.deleteCell(-1);
}
