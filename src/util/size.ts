const SIZE = /^(\d+)\s*([KMG]?)B?$/i;
const FACTOR: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Parses "512K", "10M", "64MB", "1G" (binary multiples) into bytes; null when it is not a size. */
export function parseSize(text: string): number | null {
  const match = SIZE.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * (FACTOR[(match[2] ?? '').toUpperCase()] ?? 1);
}
