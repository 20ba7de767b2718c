/**
 * Asks the app's backend a question over HTTP (the connect and subscribe proxies): a JSON POST with
 * a deadline. The backend's "no" (401, 403) is an answer; no answer in time, a 5xx or a body that is
 * not JSON is `auth_backend_unavailable`, which clients retry, so a backend that is down is said
 * at once instead of leaving connections hanging.
 */

import { HeraldError } from "../shared/herald-error.js";

export interface BackendAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function askBackend(what: string, url: string, body: unknown, timeoutMs: number): Promise<BackendAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
  } catch (error) {
    const cause = (error as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error as Error).message;
    throw new HeraldError("auth_backend_unavailable", `the app's ${what} endpoint is not answering; retry shortly`, { cause: error, detail: `${url}: ${cause}` });
  }
  const text = await response.text().catch(() => "");
  if (response.status >= 500 || (response.status !== 200 && response.status !== 401 && response.status !== 403)) {
    throw new HeraldError("auth_backend_unavailable", `the app's ${what} endpoint failed; retry shortly`, { detail: `${url} answered ${response.status}: ${text.slice(0, 200)}` });
  }
  let parsed: unknown = {};
  if (text.trim() !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HeraldError("auth_backend_unavailable", `the app's ${what} endpoint answered something other than JSON`, { detail: `${url} answered ${response.status}: ${text.slice(0, 200)}` });
    }
  }
  const record = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  return { status: response.status, body: record };
}

/** The backend's own words for a refusal, when it gave some (`{"error":"…"}` or `{"message":"…"}`). */
export function backendReason(body: Record<string, unknown>): string | undefined {
  const reason = typeof body.error === "string" ? body.error : typeof body.message === "string" ? body.message : undefined;
  return reason?.slice(0, 200);
}
