import { createRequire } from 'node:module';
import type Table from 'cli-table3';

const require = createRequire(import.meta.url);

/**
 * A plain table with a header row. cli-table3 is loaded on first use: the supervisor itself never
 * draws a table, and a daemon that runs for months need not carry the module.
 */
export function plainTable(head: string[]): Table.Table {
  const TableClass = require('cli-table3') as typeof Table;
  return new TableClass({ head, style: { head: [], border: [] } });
}
