export { loadConfig, locateRuntime, type SupervisorConfig, type BoardSpec } from './load.js';
export { locateConfig, configCandidates, CONFIG_ENV } from './locate.js';
export { ConfigError, formatIssue, keyPath, type ConfigIssue } from './issues.js';
export { loadYamlFile, parseYamlText, type Parsed } from './yamlSchema.js';
export { argv, bool, count, duration, envMap, finiteNumber, issuePath, map, strictMap, UNKNOWN_KEY } from './fields.js';
export { supervisorSchema, type RawSupervisorConfig } from './schema.js';
