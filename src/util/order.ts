/**
 * Orders strings by UTF-16 code units: the same order on every host and locale, and, unlike
 * localeCompare, without loading ICU's collation data (about 3 MB of a daemon's RSS for good).
 */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
