/**
 * Tags on the server side: publishes are checked here whatever their way in, and a subscription's
 * filter is compiled here once, into the predicate every event of the channel is run through.
 */

import type { EventTags, TagFilter } from "@herald/protocol";
import { compileTagFilter, tagsProblem } from "@herald/protocol/tag-filter";
import { HeraldError } from "../shared/herald-error.js";

/** The tags of a publish, checked (`invalid_tags`); an empty object is the same as none. */
export function checkedTags(tags: unknown, where = "tags"): EventTags | undefined {
  if (tags === undefined || tags === null) return undefined;
  const problem = tagsProblem(tags);
  if (problem) throw new HeraldError("invalid_tags", `${where === "tags" ? "" : `${where}.`}${problem}`);
  // No key at all would put `"tags":{}` on every frame of the event for nothing.
  return Object.keys(tags as object).length === 0 ? undefined : (tags as EventTags);
}

/** A subscription's filter, compiled (`invalid_filter` when it is not one). */
export function compiledFilter(text: string): TagFilter {
  const compiled = compileTagFilter(text);
  if (!compiled.ok) throw new HeraldError("invalid_filter", compiled.message);
  return compiled.matches;
}
