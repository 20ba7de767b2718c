/**
 * The HTTP API as the page calls it: same origin, so the admin cookie that opening
 * /dashboard?token=… set goes along. Refusals become errors reading "<code>: <message>".
 */

interface ApiError { error?: { code: string; message: string } }

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json()) as T & ApiError;
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`);
  return body;
}

export async function getJson<T>(url: string): Promise<T> {
  return answer<T>(await fetch(url, { cache: "no-store" }));
}

export async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  return answer<T>(await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }));
}
