import ms from 'ms';

const DURATION = /^\d+(\.\d+)?\s*(ms|s|m|h|d)$/;

/** Parses "250ms", "10s", "5m", "1h", "1d" into milliseconds; null when the text is not such a duration. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) return null;
  const value = ms(trimmed as ms.StringValue);
  return Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
}

export function formatDuration(milliseconds: number): string {
  return ms(milliseconds);
}
