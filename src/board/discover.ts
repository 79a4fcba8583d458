import { existsSync, readdirSync } from 'node:fs';
import type { BoardSpec } from '../config/index.js';
import { boardPath, boardsDir, DEFAULT_BOARD_SLUG, isValidBoardSlug } from '../hermes/index.js';

/**
 * The boards to look after. `auto`: the default board (whether or not it exists yet) and every
 * `<root>/kanban/boards/<slug>/kanban.db` that exists now; otherwise the configured list. Boards
 * `known` already are left out, so a poll that finds nothing new stats nothing.
 */
export function discoverBoards(kanbanHome: string, spec: 'auto' | BoardSpec[], known: (slug: string) => boolean = () => false): BoardSpec[] {
  if (spec !== 'auto') return spec.map((board) => ({ ...board }));
  const boards: BoardSpec[] = known(DEFAULT_BOARD_SLUG) ? [] : [{ slug: DEFAULT_BOARD_SLUG, path: boardPath(kanbanHome, DEFAULT_BOARD_SLUG) }];
  let slugs: string[] = [];
  try {
    slugs = readdirSync(boardsDir(kanbanHome)).sort();
  } catch {
    return boards;
  }
  for (const slug of slugs) {
    if (slug === DEFAULT_BOARD_SLUG || known(slug) || !isValidBoardSlug(slug)) continue;
    const file = boardPath(kanbanHome, slug);
    if (existsSync(file)) boards.push({ slug, path: file });
  }
  return boards;
}
