import { useState } from 'preact/hooks';

interface Props {
  text: string;
  label: string;
  copiedLabel: string;
  /** What is being copied, for the accessible name (e.g. "Persistent URL"). */
  what: string;
}

/** Copies a text to the clipboard, with a fallback for browsers that refuse the async API. */
export default function CopyButton({ text, label, copiedLabel, what }: Props) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 2000);
  };
  return (
    <button type="button" class="secondary" onClick={copy} aria-label={`${label}: ${what}`} data-copy={text}>
      {done ? copiedLabel : label}
      <span role="status" class="sr-only">{done ? copiedLabel : ''}</span>
    </button>
  );
}
