export { parseDuration, formatDuration } from './duration.js';
export { parseSize } from './size.js';
export { resolvePath } from './paths.js';
