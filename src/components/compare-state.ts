/**
 * Client-side comparison selection, kept in localStorage so it survives new searches and reloads.
 * Islands on the same page stay in step through a window event.
 */
export interface Marked {
  id: string;
  title: string;
}

const KEY = 'archive.compare';
const EVENT = 'archive:compare';
export const MAX_COMPARE = 8;

export function readMarked(): Marked[] {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(raw) ? raw.filter((m) => m && typeof m.id === 'string').slice(0, MAX_COMPARE) : [];
  } catch {
    return [];
  }
}

export function writeMarked(list: Marked[]): void {
  localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX_COMPARE)));
  window.dispatchEvent(new CustomEvent(EVENT));
}

export function onMarkedChange(fn: () => void): () => void {
  const storage = (e: StorageEvent) => e.key === KEY && fn();
  window.addEventListener(EVENT, fn);
  window.addEventListener('storage', storage);
  return () => {
    window.removeEventListener(EVENT, fn);
    window.removeEventListener('storage', storage);
  };
}

export function viewUrl(list: Marked[]): string {
  return `/view?items=${list.map((m) => encodeURIComponent(m.id)).join(',')}`;
}
