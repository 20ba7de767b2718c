/**
 * User authentication (pusher:signin): a connection proves who its user is with the app's
 * signature over `socket_id::user::user_data` (user_data: JSON with a string `id`), as the app's
 * user authentication endpoint signs it. A signed-in connection may subscribe to its user's
 * `#server-to-user-<id>` channel, and is one of the user's connections: the hub knows it as user
 * `pusher:<app id>:<user id>`, which is how terminate_connections (the server API's disconnect)
 * finds it on every node. A refused signin is answered with pusher:error 4009 and a close, as
 * Pusher answers it.
 */

import { PusherCodes } from "./codes.js";
import { errorFrame, signinSuccess } from "./frames.js";
import { userIdProblem } from "./channel-names.js";
import type { PusherApp } from "./apps.js";
import type { PusherSession } from "./pusher-session.js";
import { userAuthProblem } from "./signatures.js";

/** The hub's user of a Pusher app's signed-in user. */
export function hubUser(app: PusherApp, userId: string): string {
  return `pusher:${app.id}:${userId}`;
}

export function signIn(session: PusherSession, data: unknown): void {
  const { auth, user_data: userData } = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const problem = signinProblem(session, auth, userData);
  if (problem) {
    session.sendText(errorFrame(PusherCodes.unauthorized, problem));
    session.closeWith(PusherCodes.unauthorized, "Connection not authorized: pusher:signin refused");
    return;
  }
  const id = (JSON.parse(userData as string) as { id: string }).id;
  session.signedIn = id;
  session.user = hubUser(session.app, id);
  session.sendText(signinSuccess(userData as string));
}

function signinProblem(session: PusherSession, auth: unknown, userData: unknown): string | undefined {
  if (typeof userData !== "string") return "pusher:signin needs user_data: a JSON string with the user's id";
  const authProblem = userAuthProblem(session.app, session.id, auth, userData);
  if (authProblem) return authProblem;
  let id: unknown;
  try {
    id = (JSON.parse(userData) as { id?: unknown } | null)?.id;
  } catch {
    return "user_data is not valid JSON";
  }
  const idProblem = userIdProblem(id);
  if (idProblem) return `user_data.id: ${idProblem}`;
  if (session.signedIn !== undefined && session.signedIn !== id) return `this connection is signed in as ${session.signedIn} already`;
  return undefined;
}
