/**
 * `{path}` templates, shared by the bridges and the sinks.
 *
 *   render("user:{data.user_id}", { data: { user_id: 7 } })  →  "user:7"
 *
 * A path is dot-separated keys (array indexes are keys too). A missing value renders as "" and is
 * reported through `missing`, so a caller can refuse a channel that would come out incomplete.
 */

export type Escape = (text: string) => string;

const PLACEHOLDER = /\{([A-Za-z0-9_$.-]+)\}/g;

/** Reads `a.b.c` from a value; undefined when any step is missing. */
export function pick(value: unknown, path: string): unknown {
  let node: unknown = value;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export interface Rendered {
  readonly text: string;
  /** Paths that had no value. */
  readonly missing: string[];
}

export function render(template: string, context: unknown, escape: Escape = (text) => text): Rendered {
  const missing: string[] = [];
  const text = template.replace(PLACEHOLDER, (_whole, path: string) => {
    const value = pick(context, path);
    if (value === undefined || value === null) {
      missing.push(path);
      return "";
    }
    return escape(typeof value === "object" ? JSON.stringify(value) : String(value));
  });
  return { text, missing };
}

/** Escapes text for HTML bodies, so event data cannot inject markup into an email. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
