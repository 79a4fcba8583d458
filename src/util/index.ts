export { parseDuration, formatDuration } from './duration.js';
export { parseSize } from './size.js';
export { resolvePath } from './paths.js';
export { redactText, redactEnv, redactDeep, describeValue, escapeControl, safeText, isSecretName, REDACTED } from './redact.js';
export { byText } from './order.js';
