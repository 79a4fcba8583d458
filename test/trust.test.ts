import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { judgeAbove, judgeChain, judgeFinal, trustProblem, walkPath, type PathEntry } from '../src/trust/index.js';
import { describeValue, escapeControl, redactDeep, redactEnv, redactText } from '../src/util/index.js';
import { tempDir } from './helpers/tempDir.js';

const USER = 1000;
const OTHER = 65534;
const NOBODY = 65534;

const dir = (p: string, uid: number, mode: number): PathEntry => ({ path: p, kind: 'directory', uid, mode });

// --- pure rules ---------------------------------------------------------------------------------

test('a sticky world-writable folder owned by root is fine above a path, not as its last component', (t) => {
  const tmp = dir('/tmp', 0, 0o1777);
  t.is(judgeAbove(tmp, USER), null);
  t.is(
    judgeFinal(tmp, { uid: USER, finalOwner: 'user', finalKind: 'directory' }),
    'directory /tmp is owned by uid 0; expected uid 1000',
  );
  t.is(
    judgeFinal(dir('/tmp/x', USER, 0o1777), { uid: USER, finalOwner: 'user' }),
    'directory /tmp/x is writable by group or others (mode 1777); expected chmod go-w',
  );
});

test('folders above a path must be the user’s or root’s and not writable by others without the sticky bit', (t) => {
  t.is(judgeAbove(dir('/srv', OTHER, 0o755), USER), 'folder /srv is owned by uid 65534; expected uid 1000 or root');
  t.is(judgeAbove(dir('/srv', 0, 0o775), USER), 'folder /srv is writable by group or others (mode 0775); expected chmod go-w, or the sticky bit as on /tmp');
  t.is(judgeAbove(dir('/srv', USER, 0o755), USER), null);
  t.is(judgeAbove(dir('/srv', 0, 0o1777), 0), null);
});

test('a symlink owned by another user is refused wherever it is on the path', (t) => {
  const link: PathEntry = { path: '/tmp/state', kind: 'symlink', uid: OTHER, mode: 0o777 };
  t.is(judgeAbove(link, 0), 'symlink /tmp/state is owned by uid 65534; expected root (uid 0)');
  t.is(judgeAbove({ ...link, uid: 0 }, 0), null, "a link's own mode bits mean nothing");
  const chain = { above: [dir('/', 0, 0o755), dir('/tmp', 0, 0o1777), link], final: dir('/root/private', 0, 0o700) };
  t.regex(judgeChain(chain, { uid: 0, finalOwner: 'user' }) ?? '', /^symlink \/tmp\/state is owned by uid 65534/);
});

test('what the supervisor only reads may be root’s; what it writes in must be its own', (t) => {
  const config: PathEntry = { path: '/etc/hermes/supervisor.yaml', kind: 'file', uid: 0, mode: 0o644 };
  t.is(judgeFinal(config, { uid: USER, finalOwner: 'user-or-root' }), null);
  t.is(judgeFinal(config, { uid: USER, finalOwner: 'user' }), 'file /etc/hermes/supervisor.yaml is owned by uid 0; expected uid 1000');
  t.is(judgeFinal({ ...config, mode: 0o666 }, { uid: USER, finalOwner: 'user-or-root' }), 'file /etc/hermes/supervisor.yaml is writable by group or others (mode 0666); expected chmod go-w');
  t.is(judgeFinal(config, { uid: USER, finalOwner: 'user-or-root', finalKind: 'directory' }), '/etc/hermes/supervisor.yaml is a file; expected a directory');
});

test('a missing final component is judged by the folders above it alone', (t) => {
  t.is(judgeChain({ above: [dir('/', 0, 0o755)], final: null }, { uid: USER, finalOwner: 'user' }), null);
  t.truthy(judgeChain({ above: [dir('/open', 0, 0o777)], final: null }, { uid: USER, finalOwner: 'user' }));
});

// --- the walk on a real file system -------------------------------------------------------------

test('walkPath sees every symlink on the way and every folder of what it points at', (t) => {
  const base = tempDir(t, 'hs-trust-');
  fs.mkdirSync(path.join(base, 'real', 'inner'), { recursive: true });
  fs.symlinkSync('real', path.join(base, 'link'));
  const chain = walkPath(path.join(base, 'link', 'inner'));
  t.is(chain.final?.path, path.join(base, 'real', 'inner'));
  t.is(chain.final?.kind, 'directory');
  const seen = chain.above.map((entry) => `${entry.kind} ${entry.path}`);
  t.true(seen.includes(`symlink ${path.join(base, 'link')}`));
  t.true(seen.includes(`directory ${path.join(base, 'real')}`));
  t.true(seen.includes('directory /tmp'));
  t.is(walkPath(path.join(base, 'missing', 'deeper')).final, null);
});

test('walkPath gives up on a symlink loop with a message naming the path', (t) => {
  const base = tempDir(t, 'hs-trust-');
  fs.symlinkSync('b', path.join(base, 'a'));
  fs.symlinkSync('a', path.join(base, 'b'));
  t.regex(trustProblem(path.join(base, 'a'), { what: 'state dir', finalOwner: 'user' }) ?? '', /state dir .*\/a: cannot check .*too many levels of symlinks/);
});

test('trustProblem refuses a state dir reached through a link another user made, as root', (t) => {
  if (process.getuid?.() !== 0) {
    t.log('skipped: needs root to hand a symlink to another user');
    t.pass();
    return;
  }
  const base = tempDir(t, 'hs-trust-');
  const open = path.join(base, 'shared');
  fs.mkdirSync(open, { mode: 0o1777 });
  fs.chmodSync(open, 0o1777);
  const target = path.join(base, 'root-owned');
  fs.mkdirSync(target, { mode: 0o700 });
  const link = path.join(open, 'state');
  fs.symlinkSync(target, link);
  t.is(trustProblem(link, { what: 'state dir', finalOwner: 'user', finalKind: 'directory' }), null, 'a link root made is fine');
  fs.lchownSync(link, NOBODY, NOBODY);
  t.is(
    trustProblem(link, { what: 'state dir', finalOwner: 'user', finalKind: 'directory' }),
    `state dir ${link} is not trusted: symlink ${link} is owned by uid ${NOBODY}; expected root (uid 0)`,
  );
});

// --- redaction ------------------------------------------------------------------------------------

test('redactText hides secrets by their shape and keeps the rest of the line', (t) => {
  t.is(redactText('DATABASE_URL=postgres://admin:PGPASS-2222@db.internal:5432/app'), 'DATABASE_URL=postgres://***@db.internal:5432/app');
  t.is(redactText('dsn https://abcdef0123456789@o42.ingest.sentry.io/7'), 'dsn https://***@o42.ingest.sentry.io/7');
  t.is(redactText('got "sk-DURATIONSECRET"'), 'got "***"');
  t.is(redactText('token ghp_abcdefghijklmnopqrstuvwxyz0123456789'), 'token ***');
  t.is(redactText('github_pat_11ABCDEFG0123456789_abcdefghijklmnop'), '***');
  t.is(redactText('xoxb-1234567890-abcdefghij'), '***');
  t.is(redactText('glpat-abcdefghij0123456789'), '***');
  t.is(redactText('key AKIAIOSFODNN7EXAMPLE'), 'key ***');
  t.is(redactText('Authorization: Bearer abc.def-ghi_jkl'), 'Authorization: Bearer ***');
  t.is(redactText('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_part'), '***');
  t.is(redactText('https://hooks.slack.com/services/T000/B000/XXXXXXXX'), 'https://hooks.slack.com/services/***');
  t.is(redactText('value q8Zr2LmX9vTe4WpK7sNb3YdHj6Fc'), 'value ***', 'a high-entropy value under any name');
  // Profile names and board slugs are lowercase: long, varied ones stay readable in events and paths.
  for (const name of ['gateway_discord_community_2', 'kanban-board-marketing-q3-2026', '/h/kanban/boards/hermes-supervisor-production01/kanban.db']) {
    t.is(redactText(name), name);
  }
  const plain = 'gateway worker exited with code 1 at /tmp/hs-abc123/state/logs/worker.log';
  t.is(redactText(plain), plain, 'ordinary text, paths and names are left alone');
  t.is(redactText('https://example.com/path'), 'https://example.com/path');
  t.is(redactText('run 3f2b8c1e-9a4d-4e7f-b6a5-0c1d2e3f4a5b'), 'run 3f2b8c1e-9a4d-4e7f-b6a5-0c1d2e3f4a5b', 'a UUID is an id, not a key');
});

test('redactEnv hides by name, including PAT but not PATH, and by shape under any name', (t) => {
  t.deepEqual(
    redactEnv({
      GITHUB_PAT: 'plain',
      PATH: '/usr/bin',
      HERMES_API_BEARER: 'x',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/C',
      SENTRY_DSN: 'x',
      MISC: 'https://user:PASS@host/x',
    }),
    { GITHUB_PAT: '***', PATH: '/usr/bin', HERMES_API_BEARER: '***', SLACK_WEBHOOK_URL: '***', SENTRY_DSN: '***', MISC: 'https://***@host/x' },
  );
});

test('redactDeep walks events and hides env maps by name', (t) => {
  t.deepEqual(redactDeep({ error: 'got sk-0123456789abc', env: { API_TOKEN: 'short' }, n: 3, list: ['ghp_abcdefghijklmnopqrstuvwxyz'] }), {
    error: 'got ***',
    env: { API_TOKEN: '***' },
    n: 3,
    list: ['***'],
  });
});

test('a rejected value is described, never echoed; control characters are escaped', (t) => {
  t.is(describeValue('sk-DURATIONSECRET'), 'a string of 17 characters');
  t.is(describeValue(3), 'a number');
  t.is(escapeControl('evil\nwarning: forged\u001b[31m'), 'evil\\nwarning: forged\\x1b[31m');
});
