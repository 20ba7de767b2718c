/**
 * The client's address, as per-IP limits, logs and status count it. Behind a reverse proxy every
 * connection comes from the proxy; `trustProxy` lists the proxies (addresses or CIDRs) whose
 * `X-Forwarded-For` / `X-Real-IP` are believed. From any other peer those headers are ignored, since
 * anyone can write them.
 *
 * `X-Forwarded-For` is read from the right: each trusted proxy appends the address it saw, so the
 * first address from the right that is not a trusted proxy is the client.
 */

import type { IncomingHttpHeaders } from "node:http";
import { BlockList, isIPv4, isIPv6 } from "node:net";

export class ClientAddress {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  /** Throws a plain Error naming the entry that is neither an address nor a CIDR. */
  constructor(trustProxy: readonly string[]) {
    this.any = trustProxy.length > 0;
    for (const entry of trustProxy) {
      const [address = "", bits] = entry.trim().split("/");
      const family = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
      const prefix = bits === undefined ? undefined : Number(bits);
      const max = family === "ipv4" ? 32 : 128;
      if (family === undefined || (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > max))) {
        throw new Error(`trustProxy: "${entry}" is not an IP address or a CIDR such as 10.0.0.0/8`);
      }
      if (prefix === undefined) this.trusted.addAddress(address, family);
      else this.trusted.addSubnet(address, prefix, family);
    }
  }

  /** Whether `address` is one of the trusted proxies. */
  isTrusted(address: string | undefined): boolean {
    if (!this.any || address === undefined) return false;
    const plain = unmapped(address);
    return this.trusted.check(plain, isIPv6(plain) ? "ipv6" : "ipv4");
  }

  /** The client's address for a request whose TCP peer is `peer`. */
  of(peer: string | undefined, headers: IncomingHttpHeaders): string {
    const fallback = peer ?? "unknown";
    if (!this.isTrusted(peer)) return fallback;
    const forwarded = headerValue(headers["x-forwarded-for"]);
    if (forwarded !== undefined) {
      const hops = forwarded.split(",").map((hop) => hop.trim()).filter((hop) => hop.length > 0);
      for (let i = hops.length - 1; i >= 0; i--) {
        if (!this.isTrusted(hops[i])) return hops[i]!;
      }
      if (hops.length > 0) return hops[0]!;
    }
    return headerValue(headers["x-real-ip"])?.trim() || fallback;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is checked as 10.0.0.1. */
function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
