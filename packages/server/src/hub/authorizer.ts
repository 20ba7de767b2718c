/**
 * The decisions a deployment makes about who may do what. The default lets every connection
 * subscribe to any channel and lets clients publish wherever a namespace allows it; it is what
 * a hub without authentication configured does, and the ready line says so.
 * The contract lives in hub/ because the hub calls it; auth/ implements it from the layer above.
 */

import type { IncomingHttpHeaders } from "node:http";
import type { Session } from "./session.js";
import { HeraldError } from "../shared/herald-error.js";

export interface Authorizer {
  /** Checks a token from an `auth` frame, `?token=` or a cookie; sets `session.user` when it names one. */
  authenticate(session: Session, token: string): Promise<void>;
  /**
   * Identifies a connection that brought no token from its request's headers (the connect proxy
   * asks the app's backend); leaves it anonymous when it cannot tell.
   */
  authenticateRequest?(session: Session, headers: IncomingHttpHeaders): Promise<void>;
  /** Refuses with a HeraldError (forbidden, unauthorized, ...) or allows by resolving. */
  authorizeSubscribe(session: Session, channel: string, token: string | undefined): Promise<void>;
  authorizePublish(session: Session, channel: string): Promise<void>;
  /** True while the session must still authenticate before anything else (auth.required). */
  mustAuthenticate?(session: Session): boolean;
  /** Stops timers (token expiry) at shutdown. */
  close?(): void;
}

export const openAuthorizer: Authorizer = {
  async authenticate(): Promise<void> {},
  async authorizeSubscribe(): Promise<void> {},
  async authorizePublish(): Promise<void> {},
};

export { HeraldError };
