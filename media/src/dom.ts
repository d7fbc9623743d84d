// DOM helpers: elements built from text with textContent only, so no string from a trace is ever parsed as HTML.

export type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  title?: string;
  /** Plain attributes; event-handler, style and URL attributes are refused (set listeners with addEventListener). */
  attrs?: Record<string, string | number | boolean>;
}

const REFUSED = /^(on|style$|srcdoc$|href$|src$|formaction$|xlink:href$)/i;

/** Appends children: strings and numbers become text nodes, nodes are appended as they are, empty values are skipped. */
export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Creates an element: h('td', { class: 'num' }, '12.0 ms'). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement;
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  if (props?.class) el.className = props.class;
  if (props?.title) el.title = props.title;
  for (const [k, v] of Object.entries(props?.attrs ?? {})) {
    if (REFUSED.test(k)) throw new Error(`attribute ${k} is not set from h(); use addEventListener or a CSS class`);
    if (v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

/** Replaces an element's children. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** A <vscode-button> (from @vscode-elements/elements) with a text label and a click handler. */
export function button(text: string, onClick: () => void, opts: { secondary?: boolean; title?: string; class?: string } = {}): HTMLElement {
  const b = h('vscode-button', { class: opts.class, title: opts.title, attrs: { secondary: !!opts.secondary } }, text);
  b.addEventListener('click', () => {
    if (!b.hasAttribute('disabled')) onClick();
  });
  return b;
}
