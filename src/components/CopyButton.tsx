import { useEffect, useState } from 'preact/hooks';
import { copyText } from './clipboard.ts';

interface Props {
  text: string;
  label: string;
  copiedLabel: string;
  /** What is being copied, for the accessible name (e.g. "Persistent URL"). */
  what: string;
}

/**
 * A button copying a text to the clipboard, announcing that it did. Until its script has run it
 * is shown busy and disabled (it could not copy yet), so it never looks usable while it is not.
 */
export default function CopyButton({ text, label, copiedLabel, what }: Props) {
  const [ready, setReady] = useState(false);
  const [done, setDone] = useState(false);
  useEffect(() => setReady(true), []);
  const copy = async () => {
    await copyText(text);
    setDone(true);
    setTimeout(() => setDone(false), 2000);
  };
  return (
    <button type="button" class="secondary" onClick={copy} aria-label={`${label}: ${what}`} data-copy={text} disabled={!ready} aria-busy={!ready}>
      {done ? copiedLabel : label}
      <span role="status" class="sr-only">{done ? copiedLabel : ''}</span>
    </button>
  );
}
