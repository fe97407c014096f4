/// <reference types="astro/client" />

declare namespace App {
  interface Locals {
    /** UI language for this request (see src/lib/i18n/strings.ts negotiateLang). */
    lang: import('./lib/i18n/strings.ts').Lang;
  }
}
