/** Zod types for the units of the config: durations (ms) and sizes (bytes), written as numbers or text. */

import { z } from "zod";
import { parseDuration, parseSize } from "./duration.js";

const text = z.union([z.number(), z.string()]);

function toMilliseconds(value: string | number, ctx: z.RefinementCtx): number {
  const ms = parseDuration(value);
  if (ms !== undefined) return ms;
  ctx.addIssue({ code: "custom", message: `"${value}" is not a duration; write e.g. 500ms, 25s, 5m or a number of milliseconds` });
  return z.NEVER;
}

function toBytes(value: string | number, ctx: z.RefinementCtx): number {
  const bytes = parseSize(value);
  if (bytes !== undefined) return bytes;
  ctx.addIssue({ code: "custom", message: `"${value}" is not a size; write e.g. 64KiB, 1MiB or a number of bytes` });
  return z.NEVER;
}

/** A duration with a default, read as milliseconds. */
export const duration = (fallback: string) => text.default(fallback).transform(toMilliseconds);

/** A duration that may be left out (then undefined). */
export const optionalDuration = text.optional().transform((value, ctx) => (value === undefined ? undefined : toMilliseconds(value, ctx)));

/** A size with a default, read as bytes. */
export const size = (fallback: string) => text.default(fallback).transform(toBytes);
