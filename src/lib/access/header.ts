/**
 * ACCESS_MODE=header: behind another authenticating proxy (oauth2-proxy, nginx auth_request, ...)
 * the user's e-mail arrives in a request header. Anyone can send that header, so it is believed
 * only when the TCP peer — the socket's remote address, never X-Forwarded-For — is one of the
 * configured proxy addresses.
 */
import net from 'node:net';
import { normalizeEmail } from './rules.ts';

/** `::ffff:10.0.0.1` -> `10.0.0.1`; anything else unchanged. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}

/** Matches remote addresses against IP addresses and CIDR blocks (v4 and v6). */
export class AddressList {
  readonly #list = new net.BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr, prefix] = entry.split('/');
      // An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is the IPv4 address it maps, as peers are
      // matched (`has`), with a /96+n block meaning the IPv4 block /n.
      const plain = plainAddress(addr!);
      const mapped = plain !== addr;
      const family = net.isIP(plain) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.#list.addAddress(plain, family);
      else this.#list.addSubnet(plain, mapped ? Math.max(0, Number(prefix) - 96) : Number(prefix), family);
    }
  }

  has(address: string | undefined | null): boolean {
    if (!address) return false;
    const a = plainAddress(address);
    const family = net.isIP(a);
    if (!family) return false;
    return this.#list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** True for 127.0.0.0/8 and ::1 (also as IPv4-mapped). */
export function isLoopbackAddress(address: string | undefined | null): boolean {
  if (!address) return false;
  const a = plainAddress(address);
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

export type HeaderIdentity = { ok: true; id: string } | { ok: false; reason: 'missing' | 'invalid'; detail: string };

/**
 * The identity a request carries in `value` (the header's value(s)), given the socket's remote
 * address. Several values, or a value that is not an e-mail address, are refused.
 */
export function headerIdentity(value: string | string[] | null | undefined, remoteAddress: string | undefined | null, trusted: AddressList): HeaderIdentity {
  if (!trusted.has(remoteAddress)) {
    return { ok: false, reason: 'missing', detail: `request from ${remoteAddress ?? 'an unknown address'}, which is not a trusted proxy` };
  }
  if (value === null || value === undefined || value === '') return { ok: false, reason: 'missing', detail: 'no identity header' };
  if (Array.isArray(value) || value.includes(',')) return { ok: false, reason: 'invalid', detail: 'several identity header values' };
  const email = normalizeEmail(value);
  if (!email) return { ok: false, reason: 'invalid', detail: 'identity header is not an e-mail address' };
  return { ok: true, id: email };
}
