/**
 * Keeps Pusher's private and presence channels private from Herald's own protocol. A Pusher client
 * proves its right to such a channel with the app's signature; a Herald client would only meet the
 * namespace's rules, and a namespace without rules is public. So Herald clients may subscribe to,
 * read or publish on the channels of a `<namespace>-private` or `<namespace>-presence` namespace
 * only where the deployment set that namespace's `subscribe` rule itself (e.g. `token`).
 * Pusher connections are not asked: their subscriptions are granted by the signature.
 */

import { namespaceOf } from "@herald/protocol";
import type { HeraldConfig } from "../config/schema.js";
import type { Authorizer } from "../hub/authorizer.js";
import type { Session } from "../hub/session.js";
import { HeraldError } from "../shared/herald-error.js";
import type { PusherApps } from "./apps.js";

export function guardPusherChannels(inner: Authorizer, apps: PusherApps, namespaces: HeraldConfig["namespaces"]): Authorizer {
  const check = (channel: string): void => {
    const namespace = namespaceOf(channel);
    if (!apps.protectedNamespaces.has(namespace) || namespaces[namespace]?.subscribe !== undefined) return;
    throw new HeraldError("forbidden", `${channel} is a Pusher private or presence channel; Herald clients may use it only where namespaces.${namespace}.subscribe is configured (see docs/pusher.md)`);
  };
  return {
    authenticate: (session: Session, token: string) => inner.authenticate(session, token),
    async authorizeSubscribe(session: Session, channel: string, token: string | undefined): Promise<void> {
      check(channel);
      await inner.authorizeSubscribe(session, channel, token);
    },
    async authorizePublish(session: Session, channel: string): Promise<void> {
      check(channel);
      await inner.authorizePublish(session, channel);
    },
    ...(inner.mustAuthenticate ? { mustAuthenticate: (session: Session) => inner.mustAuthenticate!(session) } : {}),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
