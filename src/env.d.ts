/// <reference types="astro/client" />

declare namespace App {
  interface Locals {
    /** UI language for this request (see src/lib/i18n/strings.ts negotiateLang). */
    lang: import('./lib/i18n/strings.ts').Lang;
    /** The signed-in user (set by the middleware from the access gate); undefined on unauthenticated exempt paths. */
    user?: import('./lib/access/gate.ts').User;
    /** Why there is no user on an exempt path (no token, an invalid or expired one, keys unavailable). */
    authFailure?: import('./lib/access/cloudflare.ts').VerifyFailure;
  }
}
