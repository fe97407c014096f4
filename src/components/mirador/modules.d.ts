// Mirador and its image tools ship no type declarations; the bundle entry uses only these.
declare module 'mirador' {
  export function viewer(config: Record<string, unknown>, plugins?: unknown[]): unknown;
  export const OSDReferences: { get(windowId: string): unknown };
}
declare module 'mirador-image-tools' {
  export const miradorImageToolsPlugin: unknown[];
}
