/**
 * The authorizer built from the configuration (see docs/security.md).
 *
 * Connections authenticate with a JWT (`sub` is the user, an optional claim lists the channels the
 * token may join) or with the one static token of a small deployment. Each namespace says who may
 * subscribe: `public`, `authenticated`, or `token` (a subscription token whose `channel` claim
 * names the channel); `personal: true` gives channel `ns:<sub>` to that user alone.
 *
 * With no authentication configured and no namespace rule, everything is allowed: a fresh
 * install behaves as an open hub. Once a way to authenticate is configured, namespaces default to
 * `authenticated` (secure by default); a namespace opts out with `subscribe: public`.
 */

import type { IncomingHttpHeaders } from "node:http";
import { anyChannelMatches, namespaceOf } from "@herald/protocol";
import type { HeraldConfig } from "../config/schema.js";
import type { Session } from "../hub/session.js";
import type { Authorizer } from "../hub/authorizer.js";
import { ExpiryWatch } from "./expiry-watch.js";
import { JwtVerifier } from "./jwt-verifier.js";
import { StaticToken } from "./static-token.js";
import { ConnectProxy } from "./connect-proxy.js";
import { SubscribeProxy } from "./subscribe-proxy.js";
import { HeraldError } from "../shared/herald-error.js";

/** What a session proved about itself. */
interface Identity {
  readonly user: string | undefined;
  readonly channels: readonly string[] | undefined;
}

const NO_HEADERS: Record<string, string> = {};

export class ConfigAuthorizer implements Authorizer {
  private readonly identities = new WeakMap<Session, Identity>();
  private readonly jwt: JwtVerifier | undefined;
  private readonly staticToken: StaticToken | undefined;
  private readonly expiry: ExpiryWatch;
  private readonly connectProxy: ConnectProxy | undefined;
  private readonly subscribeProxy: SubscribeProxy | undefined;
  /** The headers the connect proxy forwarded for a session: the subscribe proxy passes them on. */
  private readonly forwarded = new WeakMap<Session, Record<string, string>>();
  /** Whether any way to authenticate is configured. */
  readonly configured: boolean;
  readonly required: boolean;

  constructor(private readonly config: HeraldConfig) {
    this.jwt = config.auth.jwt ? new JwtVerifier(config.auth.jwt) : undefined;
    this.staticToken = config.auth.token ? new StaticToken(config.auth.token) : undefined;
    this.connectProxy = config.auth.proxy?.connect ? new ConnectProxy(config.auth.proxy.connect) : undefined;
    this.subscribeProxy = config.auth.proxy?.subscribe ? new SubscribeProxy(config.auth.proxy.subscribe) : undefined;
    this.configured = this.jwt !== undefined || this.staticToken !== undefined || this.connectProxy !== undefined;
    const needsProxy = Object.entries(config.namespaces).find(([, rules]) => rules.subscribe === "proxy");
    if (needsProxy && !this.subscribeProxy) {
      throw new HeraldError("invalid_config", `namespaces.${needsProxy[0] || '""'}.subscribe is "proxy" but auth.proxy.subscribe.url is not set`);
    }
    this.required = config.auth.required;
    if (this.required && !this.configured) {
      throw new HeraldError("invalid_config", "auth.required is true but no auth.jwt, auth.token or auth.proxy.connect is configured, so nobody could connect");
    }
    this.expiry = new ExpiryWatch(config.auth.expiryGrace);
  }

  async authenticate(session: Session, token: string): Promise<void> {
    // Without a configured method a token means nothing (and must not fail: clients send one anyway).
    if (!this.configured) return;
    if (this.staticToken?.matches(token)) {
      this.identities.set(session, { user: undefined, channels: undefined });
      return;
    }
    if (!this.jwt) throw new HeraldError("unauthorized", "the token is not valid");
    const verified = await this.jwt.verify(token);
    const previous = this.identities.get(session);
    if (previous && previous.user !== verified.user) {
      throw new HeraldError("unauthorized", "the new token is for another user; open a new connection to change user");
    }
    this.identities.set(session, { user: verified.user, channels: verified.channels });
    session.user = verified.user;
    if (verified.expiresAt !== undefined && session.transport !== "polling") this.expiry.watch(session, verified.expiresAt);
    else this.expiry.forget(session);
  }

  async authenticateRequest(session: Session, headers: IncomingHttpHeaders): Promise<void> {
    if (!this.connectProxy) return;
    const forwarded = this.connectProxy.forwarded(headers);
    this.forwarded.set(session, forwarded);
    const identity = await this.connectProxy.identify(forwarded, session.transport, session.remoteAddress);
    if (identity === undefined) return;
    this.identities.set(session, identity);
    session.user = identity.user;
  }

  mustAuthenticate(session: Session): boolean {
    return this.required && !this.identities.has(session);
  }

  async authorizeSubscribe(session: Session, channel: string, token: string | undefined): Promise<void> {
    const identity = this.identities.get(session);
    if (this.required && !identity) throw new HeraldError("unauthorized", "authenticate first: ?token=, the auth cookie or an auth frame");
    if (identity?.channels && !anyChannelMatches(identity.channels, channel)) {
      throw new HeraldError("forbidden", `the token does not allow channel ${channel}`);
    }
    const namespace = namespaceOf(channel);
    const rules = this.config.namespaces[namespace];
    if (rules?.personal) {
      if (!identity) throw new HeraldError("unauthorized", `${namespace}: channels are personal; authenticate first`);
      if (identity.user === undefined || channel !== `${namespace}:${identity.user}`) {
        throw new HeraldError("forbidden", `${channel} belongs to another user; you may subscribe to ${namespace}:<your user id> only`);
      }
    }
    const policy = rules?.subscribe ?? (this.configured ? "authenticated" : "public");
    if (policy === "public") return;
    if (policy === "authenticated") {
      if (!identity) throw new HeraldError("unauthorized", `${namespace || "this namespace"} is for authenticated connections; authenticate first`);
      return;
    }
    if (policy === "proxy") {
      await this.subscribeProxy!.authorize({ user: identity?.user, channel, connectionId: session.id, transport: session.transport, headers: this.forwarded.get(session) ?? NO_HEADERS });
      return;
    }
    await this.checkSubscriptionToken(identity, channel, token);
  }

  async authorizePublish(session: Session, channel: string): Promise<void> {
    if (this.configured && !this.identities.has(session)) throw new HeraldError("unauthorized", "authenticate before publishing");
    // Being subscribed already proved the right to this channel (a subscription token included).
    if (session.subscriptions.get(channel)?.active) return;
    await this.authorizeSubscribe(session, channel, undefined);
  }

  close(): void {
    this.expiry.close();
  }

  private async checkSubscriptionToken(identity: Identity | undefined, channel: string, token: string | undefined): Promise<void> {
    if (!this.jwt) throw new HeraldError("forbidden", `${channel} needs a subscription token, and no auth.jwt is configured to check one`);
    if (!token) throw new HeraldError("forbidden", `${channel} is private: send a subscription token in the subscribe frame's token field`);
    const verified = await this.jwt.verify(token);
    if (verified.claims.channel !== channel) throw new HeraldError("forbidden", `the subscription token is not for ${channel}`);
    if (verified.user !== undefined && identity?.user !== undefined && verified.user !== identity.user) {
      throw new HeraldError("forbidden", "the subscription token was issued to another user");
    }
  }
}
