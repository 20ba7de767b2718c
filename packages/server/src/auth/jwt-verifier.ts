/**
 * Verifies connection and subscription tokens with `jose`: HS256 with a shared secret, RS256 /
 * ES256 with a PEM public key, or keys from a JWKS URL (cached; refetched when a token names a
 * `kid` the cache does not hold).
 *
 * The accepted algorithms are pinned from the configured keys, never taken from the token: a
 * token with `alg: none` is refused, and so is the classic confusion where an attacker signs an
 * HS256 token with the (public) RSA key as the HMAC secret.
 */

import { createPublicKey, type KeyObject, type webcrypto } from "node:crypto";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTHeaderParameters, type FlattenedJWSInput } from "jose";
import type { HeraldConfig } from "../config/schema.js";
import { HeraldError } from "../shared/herald-error.js";

type JwtConfig = NonNullable<HeraldConfig["auth"]["jwt"]>;

export interface VerifiedToken {
  readonly user: string | undefined;
  /** Channel names or patterns the token may join; undefined when the token sets no limit. */
  readonly channels: readonly string[] | undefined;
  /** Milliseconds since the epoch; undefined when the token has no `exp`. */
  readonly expiresAt: number | undefined;
  readonly claims: JWTPayload;
}

const HMAC_ALGORITHMS = new Set(["HS256", "HS384", "HS512"]);

export class JwtVerifier {
  private readonly secret: Uint8Array | undefined;
  private readonly publicKey: KeyObject | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly algorithms: string[];

  constructor(private readonly config: JwtConfig) {
    this.secret = config.secret === undefined ? undefined : new TextEncoder().encode(config.secret);
    this.publicKey = config.publicKey === undefined ? undefined : readPublicKey(config.publicKey);
    this.jwks = config.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: config.jwksCooldown, cacheMaxAge: 600_000, timeoutDuration: 5_000 });
    if (!this.secret && !this.publicKey && !this.jwks) {
      throw new HeraldError("invalid_config", "auth.jwt needs secret, publicKey or jwksUrl");
    }
    this.algorithms = config.algorithms ?? [
      ...(this.secret ? ["HS256"] : []),
      ...(this.publicKey ? [algorithmOf(this.publicKey)] : []),
      ...(this.jwks ? ["RS256", "ES256"] : []),
    ];
  }

  /** Verifies signature, algorithm, `exp`/`nbf`/`iat`, and `iss`/`aud` when configured; throws HeraldError. */
  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      const result = await jwtVerify(token, (header, input) => this.keyFor(header, input), {
        algorithms: this.algorithms,
        clockTolerance: Math.round(this.config.clockTolerance / 1000),
        ...(this.config.issuer === undefined ? {} : { issuer: this.config.issuer }),
        ...(this.config.audience === undefined ? {} : { audience: this.config.audience }),
      });
      payload = result.payload;
    } catch (error) {
      throw refusal(error);
    }
    // jose checks `iat` only against maxTokenAge. A token issued in the future means a wrong clock
    // at the issuer or a forged token, and it would outlive what its issuer intended.
    if (typeof payload.iat === "number" && payload.iat * 1000 > Date.now() + this.config.clockTolerance) {
      const ahead = Math.round(payload.iat - Date.now() / 1000);
      throw new HeraldError("unauthorized", `the token was refused: it was issued in the future (iat is ${ahead}s ahead of the server's clock, beyond auth.jwt.clockTolerance)`);
    }
    const channelsClaim = payload[this.config.channelsClaim];
    let channels: string[] | undefined;
    if (channelsClaim !== undefined) {
      if (!Array.isArray(channelsClaim) || !channelsClaim.every((item) => typeof item === "string")) {
        throw new HeraldError("unauthorized", `the token's "${this.config.channelsClaim}" claim must be a list of channel names`);
      }
      channels = channelsClaim;
    }
    return {
      user: typeof payload.sub === "string" && payload.sub.length > 0 ? payload.sub : undefined,
      channels,
      expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : undefined,
      claims: payload,
    };
  }

  private keyFor(header: JWTHeaderParameters, input: FlattenedJWSInput): Promise<webcrypto.CryptoKey> | Uint8Array | KeyObject {
    const alg = header.alg ?? "";
    if (HMAC_ALGORITHMS.has(alg)) {
      if (this.secret) return this.secret;
    } else if (this.publicKey) {
      return this.publicKey;
    } else if (this.jwks) {
      return this.jwks(header, input) as Promise<webcrypto.CryptoKey>;
    }
    // jose refuses the algorithm before asking for a key when it is not pinned, so this is a token
    // whose algorithm is allowed but has no key of its kind configured.
    throw new errors.JOSEAlgNotAllowed(`no key is configured for alg ${alg}`);
  }
}

function readPublicKey(pem: string): KeyObject {
  try {
    return createPublicKey(pem.replace(/\\n/g, "\n"));
  } catch (error) {
    throw new HeraldError("invalid_config", `auth.jwt.publicKey is not a PEM public key: ${(error as Error).message}`);
  }
}

function algorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === "rsa") return "RS256";
  if (key.asymmetricKeyType === "ec") return "ES256";
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  throw new HeraldError("invalid_config", `auth.jwt.publicKey: ${key.asymmetricKeyType} keys are not supported; use RSA, EC P-256 or Ed25519`);
}

function refusal(error: unknown): HeraldError {
  if (error instanceof HeraldError) return error;
  if (error instanceof errors.JWTExpired) return new HeraldError("token_expired", "the token has expired; fetch a new one and send it in an auth frame");
  if (error instanceof errors.JWTClaimValidationFailed) return new HeraldError("unauthorized", `the token was refused: ${error.message}`);
  if (error instanceof errors.JOSEAlgNotAllowed) return new HeraldError("unauthorized", "the token was refused: its signing algorithm is not accepted here");
  if (error instanceof errors.JWKSNoMatchingKey) return new HeraldError("unauthorized", "the token was refused: no key of the key set matches its kid");
  if (error instanceof errors.JWSSignatureVerificationFailed) return new HeraldError("unauthorized", "the token was refused: bad signature");
  if (error instanceof errors.JWKSTimeout || (error instanceof Error && /fetch|ECONN/i.test(error.message))) {
    return new HeraldError("unauthorized", "the token could not be checked: the key set URL did not answer");
  }
  return new HeraldError("unauthorized", "the token was refused: it is not a valid JWT");
}
