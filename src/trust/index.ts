export { judgeAbove, judgeChain, judgeFinal, modeText, type EntryKind, type PathChain, type PathEntry, type TrustPolicy } from './rules.js';
export { walkPath } from './walk.js';
export { trustProblem, currentUid, type TrustCheck } from './check.js';
export { configTrustIssues, profileTrustProblem } from './config.js';
export { appendPrivateFile, readPrivateFile, replacePrivateFile } from './files.js';
