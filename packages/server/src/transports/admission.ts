/**
 * One way in. Every transport admits a client here, so that the checks whose order matters for
 * security run once, in one order, with one set of error codes:
 *
 *   1. the node is accepting                          shutting_down
 *   2. a browser's Origin is allowed                  origin_not_allowed
 *   3. the connection limits, for a connection that
 *      stays open (node, per address, rate)           too_many_connections
 *   4. the credentials: `?token=` or the auth cookie  unauthorized, token_expired; with auth.required
 *      or, without a token, the connect proxy        and none given, unauthorized (a WebSocket may
 *                                                     still send an `auth` frame); auth_backend_unavailable
 *   5. per channel, the authorizer, when the client
 *      subscribes or reads                            forbidden (hub.subscribe, hub.authorizeRead)
 *
 * Steps 1-3 cost nothing and come before any session exists, so a flood or a hijacking page never
 * gets one; a WebSocket is refused with an HTTP answer before the upgrade. Step 4 may be slow (a
 * JWKS fetch): a WebSocket takes it after the upgrade, so the browser sees the reason in a 4501
 * close, which it could not read from a refused upgrade.
 */

import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Hub } from "../hub/hub.js";
import type { Session } from "../hub/session.js";
import type { SecurityContext } from "../auth/security-context.js";
import { tokenFromRequest } from "../auth/token-source.js";
import type { AdmissionSlot } from "../limits/connection-limiter.js";
import { HeraldError } from "../shared/herald-error.js";

/** The slot of a request that holds no connection (a history read): nothing to give back. */
const NO_SLOT: AdmissionSlot = { release: () => undefined };

/** What a transport knows of a client arriving. */
export interface Arrival {
  readonly headers: IncomingHttpHeaders;
  /** The peer's address, as the connection limits count it. */
  readonly address: string;
  /** Query parameters, where `?token=` may be. */
  readonly query: URLSearchParams | Record<string, unknown>;
}

export interface AdmissionOptions {
  readonly hub: Hub;
  readonly security: SecurityContext;
  /** False once shutdown began. */
  accepting(): boolean;
}

export class Admission {
  constructor(private readonly options: AdmissionOptions) {}

  /** What a request tells of its sender; the address is the client's, behind trusted proxies. */
  arrival(request: IncomingMessage, query: Arrival["query"]): Arrival {
    return { headers: request.headers, address: this.options.security.clientAddress.of(request.socket.remoteAddress, request.headers), query };
  }

  /**
   * Steps 1-3. `holdsConnection`: the request stays open (WebSocket, SSE, a long poll) and takes a
   * slot of the connection limits until the returned slot is released. Throws HeraldError.
   */
  enter(arrival: Arrival, holdsConnection: boolean): AdmissionSlot {
    const { security } = this.options;
    if (!this.options.accepting()) throw new HeraldError("shutting_down", "this node is shutting down; retry on another node");
    // EventSource and WebSocket send cookies cross-site: a page of another site must not ride them.
    const originProblem = security.origins.check(arrival.headers);
    if (originProblem) throw new HeraldError("origin_not_allowed", originProblem);
    if (!holdsConnection) return NO_SLOT;
    const slot = security.connections.admit(arrival.address);
    if (!slot.ok) throw new HeraldError("too_many_connections", slot.message);
    return slot.slot;
  }

  /**
   * Step 4: authenticates the session with the token the request carries and returns it (the
   * authorizer may need it again per channel). `authFrameAllowed`: the transport can still receive
   * an `auth` frame, so a missing token is not yet a refusal.
   */
  async authenticate(session: Session, arrival: Arrival, authFrameAllowed = false): Promise<string | undefined> {
    const token = tokenFromRequest(arrival.query, arrival.headers, this.options.security.cookieName);
    if (token) {
      await this.options.hub.authenticate(session, token);
      return token;
    }
    // No token: the app's backend may know the sender from its cookies (the connect proxy).
    await this.options.hub.authenticateRequest(session, arrival.headers);
    if (!authFrameAllowed && this.options.hub.mustAuthenticate(session)) {
      throw new HeraldError("unauthorized", "authenticate: ?token= or the auth cookie");
    }
    return undefined;
  }
}
