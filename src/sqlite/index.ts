export { isWalResetVulnerable, parseSqliteVersion, pickVersion, scanChunk, noCandidates, type SqliteVersion, type LibraryVersion } from './version.js';
export { readLibraryVersion, type LibraryRead } from './library.js';
export { mappedLibraries, parseMappedLibraries, type MappedLibrary } from './mapped.js';
export { SqliteRuntimes, verdictOf, type ProcessSqlite, type SqliteLibrary } from './runtimes.js';
