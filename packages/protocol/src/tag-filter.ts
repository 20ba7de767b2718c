/**
 * Event tags and the filters a subscriber sets over them.
 *
 * Tags: a publish may carry `tags`, an object of string → string (e.g. {"symbol":"BTC"}).
 * Filters: a subscribe may carry `filter`, a small expression over the event's tags, compiled once
 * per subscription into a predicate that the server runs on every event before it encodes it:
 *
 *   filter    = or
 *   or        = and { "or" and }
 *   and       = term { "and" term }
 *   term      = "(" or ")" | key "=" value | key "in" "(" value { "," value } ")" | key
 *   key       = name | quoted          (a bare key: the event has that tag, whatever its value)
 *   value     = name | quoted
 *   name      = 1*( letter | digit | "_" | "-" | "." | ":" | "/" | "@" | "+" )
 *   quoted    = '"' { any character but '"' and '\' | '\"' | '\\' } '"'
 *
 * `and` binds tighter than `or`; keywords are case-insensitive and need quotes to be used as a key
 * or value. Hand-written (recursive descent) rather than generated: the grammar is tiny, the
 * client bundles it to check filters before sending them, and each error names its position.
 */

/** An event's tags: string → string. */
export type EventTags = Readonly<Record<string, string>>;

export const MAX_TAGS = 32;
export const MAX_TAG_KEY_LENGTH = 64;
export const MAX_TAG_VALUE_LENGTH = 256;
export const MAX_FILTER_LENGTH = 1024;
/** Conditions (`key`, `key=value`, `key in (…)`) in one filter. */
export const MAX_FILTER_CONDITIONS = 64;
/** Values listed by every `in` of one filter together. */
export const MAX_FILTER_VALUES = 256;
/** Parentheses open at once. */
export const MAX_FILTER_DEPTH = 8;

const TAG_KEY = /^[A-Za-z0-9_\-.:/@+]+$/;

/** Returns a message saying what is wrong with `tags`, or undefined when they are valid. */
export function tagsProblem(tags: unknown): string | undefined {
  if (typeof tags !== "object" || tags === null || Array.isArray(tags)) return "tags must be an object of string values, e.g. {\"symbol\":\"BTC\"}";
  const keys = Object.keys(tags);
  if (keys.length > MAX_TAGS) return `tags has ${keys.length} keys; the limit is ${MAX_TAGS}`;
  for (const key of keys) {
    if (key.length === 0 || key.length > MAX_TAG_KEY_LENGTH) return `tag key "${key.slice(0, 80)}" must be 1 to ${MAX_TAG_KEY_LENGTH} characters`;
    if (!TAG_KEY.test(key)) return `tag key "${key.slice(0, 80)}" may contain only letters, digits and _ - . : / @ +`;
    const value = (tags as Record<string, unknown>)[key];
    if (typeof value !== "string") return `tags.${key} must be a string`;
    if (value.length > MAX_TAG_VALUE_LENGTH) return `tags.${key} is ${value.length} characters long; the limit is ${MAX_TAG_VALUE_LENGTH}`;
  }
  return undefined;
}

/** Whether an event's tags pass a compiled filter; an event without tags passes no condition. */
export type TagFilter = (tags: EventTags | undefined) => boolean;

export type TagFilterResult = { ok: true; matches: TagFilter } | { ok: false; message: string };

type Token = { kind: "word" | "quoted" | "=" | "(" | ")" | "," | "end"; text: string; at: number };

// Not an Error subclass, and no Set at the top level: a module without top-level side effects is
// left out of a client bundle that does not call it (the SDK loads it only where it is used).
class FilterSyntaxError {
  constructor(readonly message: string) {}
}

const isKeyword = (word: string): boolean => /^(and|or|in)$/i.test(word);
const NAME = /[A-Za-z0-9_\-.:/@+]/;

function describe(token: Token): string {
  return token.kind === "end" ? "the end of the filter" : `"${token.text}"`;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i += 1;
    } else if (c === "=" || c === "(" || c === ")" || c === ",") {
      tokens.push({ kind: c, text: c, at: i });
      i += 1;
    } else if (c === '"') {
      const at = i;
      let value = "";
      i += 1;
      for (;;) {
        if (i >= text.length) throw new FilterSyntaxError(`unterminated quoted string starting at position ${at + 1}; close it with "`);
        const d = text[i]!;
        if (d === '"') break;
        if (d === "\\") {
          const next = text[i + 1];
          if (next !== '"' && next !== "\\") throw new FilterSyntaxError(`at position ${i + 1}: only \\" and \\\\ may be escaped in a quoted string`);
          value += next;
          i += 2;
        } else {
          value += d;
          i += 1;
        }
      }
      i += 1;
      tokens.push({ kind: "quoted", text: value, at });
    } else if (NAME.test(c)) {
      const at = i;
      while (i < text.length && NAME.test(text[i]!)) i += 1;
      tokens.push({ kind: "word", text: text.slice(at, i), at });
    } else {
      throw new FilterSyntaxError(`unexpected character "${c}" at position ${i + 1}; names are letters, digits and _ - . : / @ +, other values go in double quotes`);
    }
  }
  tokens.push({ kind: "end", text: "", at: text.length });
  return tokens;
}

/** Recursive descent over the grammar in the module doc, building the predicate as it goes. */
class Parser {
  private index = 0;
  private depth = 0;
  private conditions = 0;
  private values = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): TagFilter {
    const filter = this.or();
    const rest = this.peek();
    if (rest.kind !== "end") this.fail(rest, `"and", "or"${this.depth > 0 ? ', ")"' : ""} or the end of the filter`);
    return filter;
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    return this.tokens[this.index++]!;
  }

  private keyword(word: string): boolean {
    const token = this.peek();
    if (token.kind === "word" && token.text.toLowerCase() === word) {
      this.index += 1;
      return true;
    }
    return false;
  }

  private fail(token: Token, expected: string): never {
    throw new FilterSyntaxError(`expected ${expected} at position ${token.at + 1}, found ${describe(token)}`);
  }

  private or(): TagFilter {
    const parts = [this.and()];
    while (this.keyword("or")) parts.push(this.and());
    if (parts.length === 1) return parts[0]!;
    return (tags) => {
      for (const part of parts) if (part(tags)) return true;
      return false;
    };
  }

  private and(): TagFilter {
    const parts = [this.term()];
    while (this.keyword("and")) parts.push(this.term());
    if (parts.length === 1) return parts[0]!;
    return (tags) => {
      for (const part of parts) if (!part(tags)) return false;
      return true;
    };
  }

  private term(): TagFilter {
    const token = this.next();
    if (token.kind === "(") {
      if (++this.depth > MAX_FILTER_DEPTH) throw new FilterSyntaxError(`parentheses nest deeper than ${MAX_FILTER_DEPTH} at position ${token.at + 1}`);
      const inner = this.or();
      const close = this.next();
      if (close.kind !== ")") this.fail(close, `"and", "or" or ")"`);
      this.depth -= 1;
      return inner;
    }
    const key = this.name(token, 'a tag key or "("');
    if (++this.conditions > MAX_FILTER_CONDITIONS) throw new FilterSyntaxError(`more than ${MAX_FILTER_CONDITIONS} conditions (at position ${token.at + 1}); split the subscription or tag events more coarsely`);
    if (this.peek().kind === "=") {
      this.index += 1;
      const value = this.name(this.next(), "a value");
      return (tags) => tags !== undefined && Object.prototype.hasOwnProperty.call(tags, key) && tags[key] === value;
    }
    if (this.keyword("in")) {
      const open = this.next();
      if (open.kind !== "(") this.fail(open, '"(" after "in"');
      const values = new Set<string>();
      for (;;) {
        const value = this.next();
        if (++this.values > MAX_FILTER_VALUES) throw new FilterSyntaxError(`more than ${MAX_FILTER_VALUES} values in "in" lists (at position ${value.at + 1})`);
        values.add(this.name(value, "a value"));
        const separator = this.next();
        if (separator.kind === ")") break;
        if (separator.kind !== ",") this.fail(separator, '"," or ")"');
      }
      return (tags) => tags !== undefined && Object.prototype.hasOwnProperty.call(tags, key) && values.has(tags[key]!);
    }
    return (tags) => tags !== undefined && Object.prototype.hasOwnProperty.call(tags, key);
  }

  /** A key or value: a bare name that is not a keyword, or a quoted string. */
  private name(token: Token, expected: string): string {
    if (token.kind === "quoted") return token.text;
    if (token.kind === "word" && !isKeyword(token.text)) return token.text;
    return this.fail(token, expected);
  }
}

/**
 * Compiles a filter (see the grammar above) into a predicate over an event's tags, or says what is
 * wrong with it and where (positions count characters from 1).
 */
export function compileTagFilter(text: string): TagFilterResult {
  if (text.length > MAX_FILTER_LENGTH) return { ok: false, message: `filter is ${text.length} characters long; the limit is ${MAX_FILTER_LENGTH}` };
  try {
    const tokens = tokenize(text);
    if (tokens.length === 1) return { ok: false, message: "filter is empty; leave it out to receive every event" };
    return { ok: true, matches: new Parser(tokens).parse() };
  } catch (error) {
    if (error instanceof FilterSyntaxError) return { ok: false, message: `filter: ${error.message}` };
    throw error;
  }
}
